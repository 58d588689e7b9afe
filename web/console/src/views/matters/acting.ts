// Which service centre a person acts for in 联动服务, as the registry's policy decides it
// (huigong_registry.policy.acting_of): a district federation for its district's centre and bases,
// the city federation for the city centre (370200); everyone else reads only.

import reference from "../../../openapi/reference.json";
import type { Role } from "../../stores/session";

const CITY_CODE = Object.keys(reference.city)[0] ?? "370200";

/** The area whose centre and bases the person acts for, or null for a reader. */
export function actingArea(role: Role | null, code: string | undefined): string | null {
  if (role === "district" && code) return code;
  if (role === "city") return CITY_CODE;
  return null;
}

export const STATUSES: Record<string, string> = {
  handling: "办理中",
  transferring: "转办待接收",
  closed: "已办结",
};
