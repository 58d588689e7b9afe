// What a dossier says about one application, put the way its readers need it: the reason given
// at each recorded step (for the timeline), the plans' fields by their Chinese names, and whether
// the person logged in must stand aside (回避) from it.

import type { Dossier } from "../api/client";

export function reasonsOf(dossier: Dossier): Record<string, string> {
  const reasons: Record<string, string> = {};
  for (const finding of dossier.findings) {
    reasons[finding.found.event_id] = `${finding.rule} ${finding.rule_text}：${finding.reason}`;
    if (finding.cleared) reasons[finding.cleared.event_id] = finding.cleared.reason;
  }
  for (const entry of dossier.form_history) if (entry.reason) reasons[entry.event_id] = entry.reason;
  for (const plan of dossier.plans) if (plan.reason) reasons[plan.event_id] = plan.reason;
  if (dossier.withdrawal) reasons[dossier.withdrawal.event_id] = dossier.withdrawal.reason;
  const selection = dossier.selection;
  if (selection) reasons[selection.event_id] = [selection.note ?? "", ...(selection.reasons ?? [])].filter(Boolean).join("；");
  const decision = dossier.decision;
  if (decision) reasons[decision.event_id] = [...(decision.reasons ?? []), decision.flag_note ?? ""].filter(Boolean).join("；");
  return reasons;
}

export const PLAN_KINDS: Record<string, string> = { three_year: "三年规划", annual: "年度实施方案" };

// The plan forms' fields (huigong_events.forms.ThreeYearPlan, AnnualPlan) by their Chinese names.
export const PLAN_FIELDS: Record<string, string> = {
  start_year: "起始年度",
  end_year: "结束年度",
  year: "年度",
  basic_situation: "基本情况",
  goals_and_tasks: "目标任务",
  functional_layout: "功能布局",
  main_contents: "主要建设内容和任务",
  management_mechanism: "管理和运行体制机制",
  policy_measures: "政策保障措施",
  measures: "工作措施",
  tasks: "工作任务",
  funding: "资金投入（元）",
};

/** The district or group union a reviewer or chair belongs to: `reviewer:city/wang` → the city. */
export function principalArea(principal: string): string {
  const code = principal.split(":")[1] ?? "";
  const area = code.split("/")[0] ?? "";
  return area === "city" ? "370200" : area;
}

/** Whether the person must stand aside from this application: it comes from their own area. */
export function mustRecuse(principal: string, role: string | null, dossier: Dossier): boolean {
  if (role !== "reviewer" && role !== "chair") return false;
  return principalArea(principal) === dossier.submitter;
}
