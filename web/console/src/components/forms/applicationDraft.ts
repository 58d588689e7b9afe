// What the three application forms (annexes 3, 4 and 5) share: the draft kept in this browser as
// it is typed (and by 保存草稿), per account, carrying the submission's idempotency key, so a
// session that ends mid-form loses nothing and a retried submission is recorded once; the
// managing unit's opinion that the city federation usually signs later; the declared facts; the
// server's field-level refusals shown on the fields; and amending an application not yet
// accepted (`?amend=<受理编号>`: the form as recorded, a reason, PUT instead of POST).

import { ElMessage } from "element-plus";
import { computed, onMounted, reactive, ref, watch } from "vue";
import { useRoute, useRouter } from "vue-router";

import {
  type ApplicationForm,
  type ApplicationRequest,
  type DeclaredFact,
  intakeApi,
  type Opinion,
  type Organisation,
  type Programme,
} from "../../api/client";
import { ApiError, type FieldError } from "../../api/http";
import { useSession } from "../../stores/session";

/** A form as it is being filled: the managing unit's opinion always there (sent only if ticked). */
export type FormDraft<F extends ApplicationForm> = F & { managing_opinion: Opinion; declarations: DeclaredFact[] };

export interface ApplicationDraft<F extends ApplicationForm> {
  year: number;
  programme: Programme;
  withManagingOpinion: boolean;
  form: FormDraft<F>;
  // 修改原因: asked for, and sent, only when amending.
  reason: string;
  // One key per draft: a submission retried after a lost answer is recorded once.
  idempotencyKey: string;
}

export function blankOrganisation(): Organisation {
  return { name: "", credit_code: "" };
}

export function blankOpinion(): Opinion {
  return { unit_name: "", text: "", sealed: false, signatory: "", signed_on: "" };
}

export function useApplicationDraft<F extends ApplicationForm>(kind: F["form_kind"], blank: () => ApplicationDraft<F>) {
  const session = useSession();
  const router = useRouter();
  const route = useRoute();
  const busy = ref(false);
  const serverErrors = ref<FieldError[]>([]);
  const errors = computed<Record<string, string>>(() =>
    Object.fromEntries(serverErrors.value.map((e) => [e.field, e.zh])),
  );
  // The 受理编号 of the application being amended, or null for a new one.
  const amending = typeof route.query.amend === "string" && route.query.amend ? route.query.amend : null;
  const loadFailure = ref("");

  const draftKey = computed(
    () => `huigong.draft.${kind}-form.${session.info?.username ?? "anonymous"}${amending ? `.${amending}` : ""}`,
  );
  const draft = reactive(blank()) as ApplicationDraft<F>;
  // Nothing is stored before the kept draft (or the recorded form) is in place: a blank form
  // must not overwrite it.
  let ready = false;

  function saveDraft(): void {
    localStorage.setItem(draftKey.value, JSON.stringify(draft));
  }
  watch(draft, () => ready && saveDraft(), { deep: true });

  async function recorded(receiptNo: string): Promise<void> {
    try {
      const found = await intakeApi.application(receiptNo);
      if (found.form.form_kind !== kind) {
        loadFailure.value = `受理编号 ${receiptNo} 不是这种申报表`;
        return;
      }
      const empty = blank();
      Object.assign(draft, {
        ...empty,
        year: found.year,
        programme: found.programme,
        withManagingOpinion: found.form.managing_opinion != null,
        form: { ...empty.form, ...found.form, managing_opinion: found.form.managing_opinion ?? blankOpinion() },
      });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      loadFailure.value = error.message;
    }
  }

  onMounted(async () => {
    const kept = localStorage.getItem(draftKey.value);
    if (kept) {
      Object.assign(draft, { ...blank(), ...(JSON.parse(kept) as Partial<ApplicationDraft<F>>) });
      ElMessage.info(amending ? "已恢复上次未提交的修改" : "已恢复上次未提交的草稿");
    } else if (amending) {
      await recorded(amending);
    }
    ready = true;
  });

  function keepDraft(): void {
    saveDraft();
    ElMessage.success("草稿已保存在本机浏览器");
  }

  async function discardDraft(): Promise<void> {
    localStorage.removeItem(draftKey.value);
    Object.assign(draft, blank());
    serverErrors.value = [];
    if (amending) await recorded(amending);
  }

  function form(): ApplicationForm {
    const { managing_opinion, declarations, ...rest } = draft.form;
    return {
      ...rest,
      managing_opinion: draft.withManagingOpinion ? managing_opinion : null,
      declarations: declarations.map((d) => ({
        ...d,
        occurred_on: d.occurred_on || null,
        settled_on: d.settled_on || null,
        note: d.note || null,
      })),
    } as unknown as ApplicationForm;
  }

  function body(): ApplicationRequest {
    return { year: draft.year, programme: draft.programme, form: form() };
  }

  /** Checks the fields (`validate`, the form's own rules), then sends the form or its amendment. */
  async function submit(validate: () => Promise<boolean>): Promise<void> {
    serverErrors.value = [];
    if (!(await validate())) {
      ElMessage.error("请按提示修改标红的项目");
      return;
    }
    busy.value = true;
    try {
      if (amending) {
        await intakeApi.amend(amending, { form: form(), reason: draft.reason }, draft.idempotencyKey);
        ready = false;
        localStorage.removeItem(draftKey.value);
        ElMessage.success(`已修改申报 ${amending}`);
        await router.push({ name: "district-application", params: { receiptNo: amending }, query: { amended: "1" } });
        return;
      }
      const receipt = await intakeApi.submit(body(), draft.idempotencyKey);
      ready = false; // recorded: what is on the page is no draft any more
      localStorage.removeItem(draftKey.value);
      ElMessage.success(`已报送，受理编号 ${receipt.receipt_no}`);
      await router.push({ name: "district-applications", query: { submitted: receipt.receipt_no } });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 401) return; // App.vue takes the person to the login page; the draft stays
      serverErrors.value = error.errors;
      ElMessage.error(error.status === 422 ? "申报表有需要修改的地方，见标红的项目" : error.message);
    } finally {
      busy.value = false;
    }
  }

  return { draft, busy, serverErrors, errors, amending, loadFailure, keepDraft, discardDraft, submit };
}

export type ApplicationDraftController = ReturnType<typeof useApplicationDraft>;
