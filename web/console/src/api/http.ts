// The one place that speaks HTTP to the four APIs behind the front door: same origin, the session
// cookie, the CSRF token on every change, an idempotency key on every submission, and the
// platform's refusals turned into field errors the forms show on the field.

export type Service = "intake" | "review" | "registry" | "metrics";

export interface FieldError {
  field: string;
  zh: string;
  en: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly errors: FieldError[];

  constructor(status: number, errors: FieldError[]) {
    super(errors.map((e) => e.zh).join("；") || `请求失败（${status}）`);
    this.status = status;
    this.errors = errors;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

interface Hooks {
  csrfToken: () => string | null;
  // A request refused because the session ended (401): the session store logs the page out.
  sessionEnded: () => void;
}

let hooks: Hooks = { csrfToken: () => null, sessionEnded: () => undefined };

export function installHooks(installed: Hooks): void {
  hooks = installed;
}

export function url(service: Service, path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined && value !== "") params.set(name, String(value));
  }
  const search = params.toString();
  return `/api/${service}${path}${search ? `?${search}` : ""}`;
}

function refusal(status: number, body: unknown): ApiError {
  const listed =
    typeof body === "object" && body !== null && "errors" in body && Array.isArray(body.errors)
      ? (body.errors as FieldError[])
      : [];
  if (listed.length > 0) return new ApiError(status, listed);
  const zh = status >= 500 ? "服务暂时不可用，请稍后重试" : `请求失败（${status}）`;
  return new ApiError(status, [{ field: "", zh, en: `request failed (${status})` }]);
}

export async function request<T>(
  service: Service,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  options: { query?: Query; body?: unknown; idempotencyKey?: string } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") {
    const csrf = hooks.csrfToken();
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(url(service, path, options.query), {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      body: options.body === undefined ? null : JSON.stringify(options.body),
    });
  } catch {
    throw new ApiError(0, [{ field: "", zh: "无法连接服务器，请检查网络后重试", en: "network error" }]);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    if (response.status === 401 && path !== "/session") hooks.sessionEnded();
    throw refusal(response.status, body);
  }
  return body as T;
}

// The file's name from `Content-Disposition` (RFC 6266: `filename*` in UTF-8 first, as the
// exports name their files in Chinese), else `fallback`.
function attachmentName(disposition: string | null, fallback: string): string {
  const extended = /filename\*=UTF-8''([^;]+)/i.exec(disposition ?? "");
  if (extended?.[1]) return decodeURIComponent(extended[1]);
  const plain = /filename="([^"]+)"/i.exec(disposition ?? "");
  return plain?.[1] ?? fallback;
}

/** Fetches a file (an export) and hands it to the browser as a download; a refusal is thrown as
 * an ApiError rather than saved as a file holding the JSON refusal. */
export async function download(service: Service, path: string, query: Query, fallback: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url(service, path, query), { credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new ApiError(0, [{ field: "", zh: "无法连接服务器，请检查网络后重试", en: "network error" }]);
  }
  if (!response.ok) {
    if (response.status === 401) hooks.sessionEnded();
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw refusal(response.status, body);
  }
  const name = attachmentName(response.headers.get("Content-Disposition"), fallback);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The click has handed the blob to the browser's download; the URL is no longer needed.
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
  return name;
}
