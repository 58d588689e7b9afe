// The district's unread notices (its outbound feed) for the header: the last notice a person has
// seen is kept per user in this browser, and what came after it is unread. A second browser or a
// cleared storage counts everything as unread again, which is harmless: nothing is lost, only
// shown as new.

import { defineStore } from "pinia";
import { computed, ref } from "vue";

import { intakeApi } from "../api/client";
import { useSession } from "./session";

// Counting stops here: "99+" says enough, and one request of 100 stays cheap however long a
// district has not looked.
export const UNREAD_LIMIT = 100;

export const useNotices = defineStore("notices", () => {
  const session = useSession();
  const unread = ref(0);
  const storageKey = computed(() => `huigong.notices.seen.${session.info?.username ?? ""}`);
  const reads = computed(() => session.role === "district" || session.role === "group");

  function lastSeen(): number {
    const stored = Number(window.localStorage.getItem(storageKey.value) ?? "0");
    return Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
  }

  async function refresh(): Promise<void> {
    if (!reads.value) return;
    try {
      const answer = await intakeApi.feed({ after: lastSeen(), limit: UNREAD_LIMIT });
      unread.value = answer.notices.length;
    } catch {
      // The count is a hint; the notifications page says why the feed cannot be read.
    }
  }

  /** Everything up to `seq` has been shown to the person. */
  async function seen(seq: number): Promise<void> {
    if (seq > lastSeen()) window.localStorage.setItem(storageKey.value, String(seq));
    await refresh();
  }

  return { unread, reads, lastSeen, refresh, seen };
});
