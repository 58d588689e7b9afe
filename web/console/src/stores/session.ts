// Who is logged in (Pinia). The session itself is the HttpOnly cookie the server set; the page
// keeps only what it shows and the CSRF token it sends with every change.

import { defineStore } from "pinia";
import { computed, ref } from "vue";

import { type SessionInfo, sessionApi } from "../api/client";
import { ApiError, installHooks } from "../api/http";

export type Role = "district" | "group" | "city" | "reviewer" | "chair" | "registrar" | "ops" | "viewer" | "exchange" | "simulator";

export const useSession = defineStore("session", () => {
  const info = ref<SessionInfo | null>(null);
  // Set when a request was refused because the session ended: the login page says so, and the
  // form the person was filling in keeps its draft (see district/PilotForm.vue).
  const ended = ref(false);
  const checked = ref(false);
  // Whether the server could not be asked who is logged in (a service down): the login page says so.
  const unavailable = ref("");

  const role = computed(() => (info.value?.role ?? null) as Role | null);

  installHooks({
    csrfToken: () => info.value?.csrf_token ?? null,
    sessionEnded: () => {
      if (info.value !== null) ended.value = true;
      info.value = null;
    },
  });

  async function restore(): Promise<void> {
    if (checked.value) return;
    try {
      info.value = await sessionApi.current();
      unavailable.value = "";
    } catch (error) {
      info.value = null;
      const refused = error instanceof ApiError && error.status === 401;
      unavailable.value = refused ? "" : error instanceof ApiError ? error.message : "服务暂时不可用，请稍后重试";
    } finally {
      // Asked again on the next navigation while the server could not answer.
      checked.value = unavailable.value === "";
    }
  }

  async function login(username: string, password: string): Promise<void> {
    info.value = await sessionApi.login(username, password);
    ended.value = false;
    unavailable.value = "";
    checked.value = true;
  }

  async function logout(): Promise<void> {
    try {
      await sessionApi.logout();
    } catch (error) {
      // Already ended (expired, revoked): logged out all the same.
      if (!(error instanceof ApiError)) throw error;
    } finally {
      info.value = null;
    }
  }

  return { info, role, ended, checked, unavailable, restore, login, logout };
});
