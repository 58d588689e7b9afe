// A work list filtered and paginated on the server: the page shown, its rows, the total, and the
// refusal to show when reading failed. `fetchPage` asks for one page with the current filters.

import { ref, type Ref } from "vue";

import { ApiError } from "../api/http";

export const PAGE_SIZE = 20;

export interface Page<T> {
  total: number;
  items: T[];
}

export function usePagedList<T>(fetchPage: (page: number, pageSize: number) => Promise<Page<T>>) {
  const page = ref(1);
  const total = ref(0);
  const rows = ref([]) as Ref<T[]>;
  const loading = ref(false);
  const failure = ref("");

  async function load(): Promise<Page<T> | null> {
    loading.value = true;
    failure.value = "";
    try {
      const answer = await fetchPage(page.value, PAGE_SIZE);
      rows.value = answer.items;
      total.value = answer.total;
      return answer;
    } catch (error) {
      failure.value = error instanceof ApiError ? error.message : "读取失败，请稍后重试";
      return null;
    } finally {
      loading.value = false;
    }
  }

  // New filters: from the first page again.
  function search(): void {
    page.value = 1;
    void load();
  }

  return { page, total, rows, loading, failure, load, search };
}
