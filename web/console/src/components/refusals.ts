// A form's server-side refusals: the field-level messages (`field` is the form item's prop, as in
// the district form) shown on the fields, and every message listed above the form.

import { computed, ref } from "vue";

import { ApiError, type FieldError } from "../api/http";

export function useRefusals() {
  const refusals = ref<FieldError[]>([]);
  const onField = computed<Record<string, string>>(() =>
    Object.fromEntries(refusals.value.map((e) => [e.field, e.zh])),
  );

  /** Runs `send`; a refusal is kept for the fields and answered with false. */
  async function attempt(send: () => Promise<unknown>): Promise<boolean> {
    refusals.value = [];
    try {
      await send();
      return true;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      refusals.value = error.errors;
      return false;
    }
  }

  /** The messages no field of `shown` displays: listed beside the button instead. */
  function elsewhere(shown: string[]): string {
    return refusals.value
      .filter((e) => !shown.includes(e.field))
      .map((e) => e.zh)
      .join("；");
  }

  return { refusals, onField, attempt, elsewhere };
}

/** A fresh idempotency key for one decision: a retried click is recorded once. */
export function newKey(): string {
  return crypto.randomUUID();
}

/** Today in Beijing, as an ISO date ("2026-12-07"). */
export function beijingToday(): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
}
