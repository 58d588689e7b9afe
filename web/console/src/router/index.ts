// One route tree per role: each person lands on the work list of their role, and a route of
// another role sends them back to their own.

import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";

import { type Role, useSession } from "../stores/session";
import Layout from "../views/Layout.vue";
import Login from "../views/Login.vue";

export interface MenuItem {
  path: string;
  label: string;
}

const SUBMITTERS: Role[] = ["district", "group"];
const REGISTRY_READERS: Role[] = ["registrar", "city", "ops", "viewer"];
// 联动服务: a district federation acts for its district's service centre, the city federation for
// the city's; registrars, ops and viewers read (the registry's policy).
const MATTER_READERS: Role[] = ["district", "city", "registrar", "ops", "viewer"];

// The three application forms a district or group union fills in (annexes 3–5).
const FORM_MENU: MenuItem[] = [
  { path: "/district/applications/new", label: "填写申报表（附件3）" },
  { path: "/district/applications/new/service-base", label: "服务职工基地（附件4）" },
  { path: "/district/applications/new/welfare-partner", label: "公益伙伴（附件5）" },
];

// What a district or group union reports besides applications.
const REPORT_MENU: MenuItem[] = [
  { path: "/district/facilities", label: "设施报送" },
  { path: "/district/service-projects", label: "服务项目" },
];

// The landing page and menu of each role.
export const MENUS: Record<Role, MenuItem[]> = {
  district: [
    { path: "/district/applications", label: "本单位申报" },
    ...FORM_MENU,
    { path: "/registry/units", label: "建设单位" },
    { path: "/matters", label: "服务事项" },
    { path: "/district/notifications", label: "通知" },
    { path: "/district/enrolments", label: "入会登记" },
    ...REPORT_MENU,
    { path: "/district/warmth", label: "送温暖" },
  ],
  group: [
    { path: "/district/applications", label: "本单位申报" },
    ...FORM_MENU,
    { path: "/registry/units", label: "建设单位" },
    { path: "/district/notifications", label: "通知" },
    { path: "/district/enrolments", label: "入会登记" },
    ...REPORT_MENU,
    { path: "/district/warmth", label: "送温暖" },
  ],
  city: [
    { path: "/city/applications", label: "全部申报" },
    { path: "/city/submission-windows", label: "补报窗口" },
    { path: "/city/targets", label: "目标" },
    { path: "/city/compliance-facts", label: "合规事实" },
    { path: "/city/warmth", label: "送温暖预算与审批" },
    { path: "/registry/units", label: "建设单位" },
    { path: "/matters", label: "服务事项" },
  ],
  reviewer: [{ path: "/review/queue", label: "评审队列" }],
  chair: [{ path: "/review/queue", label: "评审队列" }],
  registrar: [
    { path: "/registry/units", label: "建设单位" },
    { path: "/registry/facilities", label: "设施" },
    { path: "/registry/partners", label: "公益伙伴" },
    { path: "/registry/members", label: "会员个人信息删除" },
    { path: "/matters", label: "服务事项" },
  ],
  ops: [
    { path: "/city/applications", label: "全部申报" },
    { path: "/review/queue", label: "评审队列" },
    { path: "/registry/units", label: "建设单位" },
    { path: "/audit/timeline", label: "审计时间线" },
    { path: "/audit/dead-letters", label: "死信" },
    { path: "/audit/streams", label: "数据流" },
    { path: "/audit/verify", label: "校验结果" },
    { path: "/matters", label: "服务事项" },
  ],
  viewer: [{ path: "/registry/units", label: "建设单位" }],
  exchange: [],
  simulator: [],
};

export function landing(role: Role | null): string {
  const first = role ? MENUS[role][0] : undefined;
  return first ? first.path : "/login";
}

const routes: RouteRecordRaw[] = [
  { path: "/login", name: "login", component: Login, meta: { title: "登录", public: true } },
  {
    path: "/verify",
    name: "verify",
    component: () => import("../views/Verify.vue"),
    meta: { title: "示范单位证书核验", public: true },
  },
  {
    path: "/",
    component: Layout,
    children: [
      { path: "", name: "home", redirect: () => landing(useSession().role) },
      {
        path: "district/applications",
        name: "district-applications",
        component: () => import("../views/district/Applications.vue"),
        meta: { title: "本单位申报", roles: SUBMITTERS },
      },
      {
        path: "district/applications/new",
        name: "district-pilot-form",
        component: () => import("../views/district/PilotForm.vue"),
        meta: { title: "服务职工综合体/幸福企业试点申报表", roles: SUBMITTERS },
      },
      {
        path: "district/applications/new/service-base",
        name: "district-service-base-form",
        component: () => import("../views/district/ServiceBaseForm.vue"),
        meta: { title: "服务职工基地申报表", roles: SUBMITTERS },
      },
      {
        path: "district/applications/new/welfare-partner",
        name: "district-welfare-partner-form",
        component: () => import("../views/district/WelfarePartnerForm.vue"),
        meta: { title: "关爱职工公益伙伴申报表", roles: SUBMITTERS },
      },
      {
        path: "district/applications/:receiptNo",
        name: "district-application",
        component: () => import("../views/district/Application.vue"),
        meta: { title: "本单位的申报", roles: SUBMITTERS },
      },
      {
        path: "district/applications/:receiptNo/plans",
        name: "district-plan-form",
        component: () => import("../views/district/PlanForm.vue"),
        meta: { title: "报送建设方案", roles: SUBMITTERS },
      },
      {
        path: "district/notifications",
        name: "district-notifications",
        component: () => import("../views/district/Notifications.vue"),
        meta: { title: "通知", roles: SUBMITTERS },
      },
      {
        path: "district/enrolments",
        name: "district-enrolments",
        component: () => import("../views/district/Enrolments.vue"),
        meta: { title: "入会登记", roles: SUBMITTERS },
      },
      {
        path: "district/facilities",
        name: "district-facilities",
        component: () => import("../views/district/Facilities.vue"),
        meta: { title: "设施报送", roles: SUBMITTERS },
      },
      {
        path: "district/service-projects",
        name: "district-service-projects",
        component: () => import("../views/district/ServiceProjects.vue"),
        meta: { title: "服务项目", roles: SUBMITTERS },
      },
      {
        path: "district/warmth",
        name: "district-warmth",
        component: () => import("../views/district/Warmth.vue"),
        meta: { title: "送温暖", roles: SUBMITTERS },
      },
      {
        path: "city/applications",
        name: "city-applications",
        component: () => import("../views/city/Applications.vue"),
        meta: { title: "全部申报", roles: ["city", "ops"] },
      },
      {
        path: "city/submission-windows",
        name: "city-submission-windows",
        component: () => import("../views/city/SubmissionWindows.vue"),
        meta: { title: "补报窗口", roles: ["city"] },
      },
      {
        path: "city/targets",
        name: "city-targets",
        component: () => import("../views/city/Targets.vue"),
        meta: { title: "目标", roles: ["city"] },
      },
      {
        path: "city/compliance-facts",
        name: "city-compliance-facts",
        component: () => import("../views/city/ComplianceFacts.vue"),
        meta: { title: "合规事实", roles: ["city"] },
      },
      {
        path: "city/compliance-facts/:factId",
        name: "city-compliance-fact",
        component: () => import("../views/city/ComplianceFact.vue"),
        meta: { title: "合规事实", roles: ["city"] },
      },
      {
        path: "city/warmth",
        name: "city-warmth",
        component: () => import("../views/city/Warmth.vue"),
        meta: { title: "送温暖预算与审批", roles: ["city"] },
      },
      {
        path: "review/queue",
        name: "review-queue",
        component: () => import("../views/review/Queue.vue"),
        meta: { title: "评审队列", roles: ["reviewer", "chair", "ops"] },
      },
      {
        path: "review/applications/:receiptNo",
        name: "review-application",
        component: () => import("../views/review/Application.vue"),
        meta: { title: "申报案卷", roles: ["reviewer", "chair", "ops"] },
      },
      {
        path: "registry/facilities",
        name: "registry-facilities",
        component: () => import("../views/registry/Facilities.vue"),
        meta: { title: "设施", roles: REGISTRY_READERS },
      },
      {
        path: "registry/partners",
        name: "registry-partners",
        component: () => import("../views/registry/Partners.vue"),
        meta: { title: "公益伙伴", roles: REGISTRY_READERS },
      },
      {
        path: "audit/timeline",
        name: "audit-timeline",
        component: () => import("../views/audit/Timeline.vue"),
        meta: { title: "审计时间线", roles: ["ops"] },
      },
      {
        path: "audit/dead-letters",
        name: "audit-dead-letters",
        component: () => import("../views/audit/DeadLetters.vue"),
        meta: { title: "死信", roles: ["ops"] },
      },
      {
        path: "audit/streams",
        name: "audit-streams",
        component: () => import("../views/audit/Streams.vue"),
        meta: { title: "数据流", roles: ["ops"] },
      },
      {
        path: "audit/verify",
        name: "audit-verify",
        component: () => import("../views/audit/VerifyReports.vue"),
        meta: { title: "校验结果", roles: ["ops"] },
      },
      {
        path: "registry/members",
        name: "registry-members",
        component: () => import("../views/registry/Members.vue"),
        meta: { title: "会员个人信息删除", roles: ["registrar"] },
      },
      {
        path: "matters",
        name: "matters",
        component: () => import("../views/matters/Matters.vue"),
        meta: { title: "服务事项", roles: MATTER_READERS },
      },
      {
        path: "matters/:matterId",
        name: "matter",
        component: () => import("../views/matters/Matter.vue"),
        meta: { title: "服务事项", roles: MATTER_READERS },
      },
      {
        path: "registry/units/:unitId",
        name: "registry-unit",
        component: () => import("../views/registry/Unit.vue"),
        meta: { title: "建设单位", roles: [...REGISTRY_READERS, ...SUBMITTERS] },
      },
      {
        path: "registry/units",
        name: "registry-units",
        component: () => import("../views/registry/Units.vue"),
        meta: { title: "建设单位", roles: [...REGISTRY_READERS, ...SUBMITTERS] },
      },
    ],
  },
  { path: "/:unknown(.*)*", redirect: "/" },
];

export const router = createRouter({ history: createWebHistory(), routes });

router.beforeEach(async (to) => {
  const session = useSession();
  await session.restore();
  if (to.meta.public) {
    return session.info && to.name === "login" ? landing(session.role) : true;
  }
  if (!session.info) {
    return { name: "login", query: to.fullPath !== "/" ? { redirect: to.fullPath } : {} };
  }
  const allowed = to.meta.roles as Role[] | undefined;
  if (allowed && session.role && !allowed.includes(session.role)) return landing(session.role);
  return true;
});

router.afterEach((to) => {
  const title = typeof to.meta.title === "string" ? to.meta.title : "工作台";
  document.title = `${title} · 惠工工作台`;
});
