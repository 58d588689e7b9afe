// What people read instead of codes and timestamps: names of areas and programmes, Beijing time.

import reference from "../openapi/reference.json";
import type { Programme } from "./api/client";

const areas: Record<string, string> = { ...reference.city, ...reference.districts, ...reference.group_unions };

export function areaName(code: string | null | undefined): string {
  if (!code) return "";
  return areas[code] ?? code;
}

export const districtOptions = Object.entries(reference.districts).map(([value, label]) => ({ value, label }));

export const PROGRAMMES: Record<Programme, string> = {
  service_complex: "服务职工综合体",
  happy_enterprise: "职工生活幸福型企业",
  service_base: "服务职工基地",
  welfare_partner: "关爱职工公益伙伴",
};

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
