// What people read instead of codes and timestamps: names of areas and programmes, Beijing time.

import reference from "../openapi/reference.json";
import type {
  ApplicationStatus,
  ComplianceFactKind,
  DeliveryStatus,
  Festival,
  Occasion,
  PartnerCategory,
  Programme,
  WarmthForm,
} from "./api/client";

const areas: Record<string, string> = { ...reference.city, ...reference.districts, ...reference.group_unions };

export function areaName(code: string | null | undefined): string {
  if (!code) return "";
  return areas[code] ?? code;
}

export const districtOptions = Object.entries(reference.districts).map(([value, label]) => ({ value, label }));
// Every union that delivers 送温暖 and has a fund: the districts, then the group unions.
export const unionOptions = [
  ...districtOptions,
  ...Object.entries(reference.group_unions).map(([value, label]) => ({ value, label })),
];

// The labels of codes, exactly as the API writes them beside the codes in its answers
// (`status_label`, `programme_label`…): exported from the code by `npm run api`, so console and
// API never use two words for one thing.
export interface Choice<T extends string = string> {
  value: T;
  label: string;
}
const labels = reference.labels;

export const APPLICATION_STATUSES = labels.application_status as Choice<ApplicationStatus>[];
export const PARTNER_CATEGORIES = labels.partner_category as Choice<PartnerCategory>[];
export const FACT_KINDS = labels.compliance_fact_kind as Choice<ComplianceFactKind>[];
export const DEPARTMENTS = labels.reporting_department as Choice[];
export const SERVICE_FIELDS = labels.service_field as Choice[];
export const STATION_HOSTS = labels.station_host as Choice[];

/** The label of `code` among `choices`, or the code itself when it has none. */
export function labelOf(choices: Choice[], code: string | null | undefined): string {
  if (!code) return "";
  return choices.find((c) => c.value === code)?.label ?? code;
}
export const OCCASIONS = labels.occasion as Choice<Occasion>[];
export const FESTIVALS = labels.festival as Choice<Festival>[];
export const WARMTH_FORMS = labels.warmth_form as Choice<WarmthForm>[];
export const DELIVERY_STATUSES = labels.delivery_status as Choice<DeliveryStatus>[];

export const PROGRAMMES = Object.fromEntries(labels.programme.map((p) => [p.value, p.label])) as Record<
  Programme,
  string
>;

export function programmeName(programme: string): string {
  return PROGRAMMES[programme as Programme] ?? programme;
}

const beijing = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

/** An instant as Beijing time, "2026/12/07 09:30". */
export function beijingTime(iso: string | null | undefined): string {
  return iso ? beijing.format(new Date(iso)) : "";
}

/** A calendar date as written in Chinese forms, "2026年12月7日". */
export function chineseDate(isoDate: string | null | undefined): string {
  if (!isoDate) return "";
  const [year, month, day] = isoDate.split("-").map(Number);
  return `${year}年${month}月${day}日`;
}

/** The current year in Beijing. */
export function beijingYear(): number {
  return Number(new Intl.DateTimeFormat("en", { timeZone: "Asia/Shanghai", year: "numeric" }).format(new Date()));
}

/** The year whose applications are being taken now: due by 30 June of that year, Beijing time. */
export function submissionYear(): number {
  const month = Number(new Intl.DateTimeFormat("en", { timeZone: "Asia/Shanghai", month: "numeric" }).format(new Date()));
  return beijingYear() + (month > 6 ? 1 : 0);
}
