// What a district reads of each notice of its feed (libs/events/huigong_events/outbound.py):
// the kind in Chinese, the number it is known by (受理编号, certificate number, row numbers)
// and the reason where there is one. Never an internal code: rules come with their wording.

import type { FeedNotice } from "../../api/client";

export interface ShownNotice {
  kind: string;
  tone: "success" | "warning" | "danger" | "info" | "primary";
  reference: string;
  reason: string;
  // Whether the notice is about an application (its 受理编号 then comes from the district's list).
  application: string | null;
}

type Data = Record<string, unknown>;

function text(data: Data, key: string): string {
  const value = data[key];
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : "";
}

function list<T>(data: Data, key: string): T[] {
  const value = data[key];
  return Array.isArray(value) ? (value as T[]) : [];
}

interface Problem {
  field: string;
  zh: string;
}

const UNIT_STATUS: Record<string, [string, ShownNotice["tone"]]> = {
  certified: ["单位已认定", "success"],
  revoked: ["认定已撤销", "danger"],
  exited: ["单位已退出", "warning"],
};

const DECISION_TONE: Record<string, ShownNotice["tone"]> = {
  selected: "success",
  approved: "success",
  not_selected: "warning",
  declined: "danger",
};

const FINDING_STAGES: Record<string, string> = {
  before_acceptance: "受理前",
  after_acceptance: "受理后",
  during_construction: "建设中",
  after_certification: "认定后",
};

export function showNotice(notice: FeedNotice): ShownNotice {
  const data = notice.data;
  const application = typeof data.application_id === "string" ? data.application_id : null;
  const base = { application, reference: "", reason: "" };
  switch (notice.type) {
    case "ApplicationReceivedNotice":
      return { ...base, kind: "已收到申报", tone: "info", reference: text(data, "receipt_no") };
    case "ApplicationAcceptedNotice":
      return { ...base, kind: "已受理", tone: "success" };
    case "ApplicationRejectedNotice":
      return {
        ...base,
        kind: "不予受理",
        tone: "danger",
        reason: list<{ rule: string; rule_text: string }>(data, "rules")
          .map((r) => `${r.rule} ${r.rule_text}`)
          .join("；"),
      };
    case "ApplicationDecidedNotice":
      return {
        ...base,
        kind: text(data, "decision_label") || "评审决定",
        tone: DECISION_TONE[text(data, "decision")] ?? "info",
        reason: list<string>(data, "reasons").join("；"),
      };
    case "UnitStatusNotice": {
      const [kind, tone] = UNIT_STATUS[text(data, "status")] ?? ["单位状态变更", "info"];
      return { ...base, kind, tone, reference: text(data, "certificate_no"), reason: text(data, "reason") };
    }
    case "CertificationSuspensionNotice": {
      const suspended = text(data, "status") === "suspended";
      const rule = suspended ? `${text(data, "rule")} ${text(data, "rule_text")}`.trim() : "";
      const due = suspended && text(data, "statement_due") ? `（陈述期限至 ${text(data, "statement_due")}）` : "";
      return {
        ...base,
        kind: suspended ? "认定已暂停" : "认定已恢复",
        tone: suspended ? "warning" : "success",
        reference: text(data, "certificate_no"),
        reason: suspended ? `${rule}${due}` : text(data, "reason"),
      };
    }
    case "EnrolmentBatchNotice": {
      const refused = list<{ row: number; errors: Problem[] }>(data, "refused");
      return {
        ...base,
        kind: "入会报送已处理",
        tone: refused.length ? "warning" : "success",
        reference: `共 ${text(data, "rows")} 行，受理 ${text(data, "accepted")} 行`,
        reason: refused.map((r) => `第 ${r.row} 行：${r.errors.map((e) => e.zh).join("，")}`).join("；"),
      };
    }
    case "EnrolmentOutcomeNotice": {
      const enrolled = list<number>(data, "enrolled");
      const before = list<number>(data, "already_members");
      return {
        ...base,
        kind: "入会登记结果",
        tone: "success",
        reference: `新入会 ${enrolled.length} 行，已是会员 ${before.length} 行`,
        reason: before.length ? `第 ${before.join("、")} 行：此前已报送入会，予以记录，不重复计入目标` : "",
      };
    }
    case "InboundCommandRefusedNotice":
      return {
        ...base,
        kind: "入站命令未受理",
        tone: "danger",
        reference: text(data, "command"),
        reason: [text(data, "reason"), ...list<Problem>(data, "errors").map((e) => e.zh)].filter(Boolean).join("；"),
      };
    case "FindingNotice":
      return {
        ...base,
        kind: `发现不予受理情形（${FINDING_STAGES[text(data, "stage")] ?? text(data, "stage")}）`,
        tone: "danger",
        reason: [`${text(data, "rule")} ${text(data, "rule_text")}`, text(data, "reason")].filter(Boolean).join("；"),
      };
    case "FindingClearedNotice":
      return { ...base, kind: "发现已排除", tone: "success", reason: text(data, "reason") };
    case "PlanReceivedNotice": {
      const plan = text(data, "plan_kind") === "annual" ? `${text(data, "plan_year")}年度实施方案` : "三年规划";
      const amended = data.amended === true;
      return { ...base, kind: `${amended ? "已修改" : "已收到"}${plan}`, tone: "info", reason: text(data, "reason") };
    }
    case "FacilityNotice": {
      const closed = text(data, "status") === "closed";
      return {
        ...base,
        kind: closed ? "设施已关闭" : "设施已登记建成",
        tone: closed ? "warning" : "success",
        reference: text(data, "name"),
        reason: text(data, "reason"),
      };
    }
    case "ServiceProjectListedNotice":
      return { ...base, kind: "服务项目已入库", tone: "success", reference: text(data, "name") };
    case "MatterTransferredNotice":
      return {
        ...base,
        kind: "服务事项已转办",
        tone: "info",
        reference: `${text(data, "from_name")} → ${text(data, "to_name")}`,
        reason: text(data, "reason"),
      };
    default:
      return { ...base, kind: "其他通知", tone: "info" };
  }
}
