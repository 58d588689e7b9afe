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

// What a request sends: a JSON body, or a form with a file (the browser writes its boundary).
interface Sending {
  query?: Query;
  body?: unknown;
  form?: FormData;
  idempotencyKey?: string;
  accept?: string;
}

async function send(
  service: Service,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  options: Sending,
): Promise<Response> {
  const headers: Record<string, string> = { Accept: options.accept ?? "application/json" };
  if (method !== "GET") {
    const csrf = hooks.csrfToken();
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetch(url(service, path, options.query), {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      body: options.form ?? (options.body === undefined ? null : JSON.stringify(options.body)),
    });
  } catch {
    throw new ApiError(0, [{ field: "", zh: "无法连接服务器，请检查网络后重试", en: "network error" }]);
  }
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

export async function request<T>(
  service: Service,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  options: Sending = {},
): Promise<T> {
  const response = await send(service, method, path, options);
  const body = await readJson(response);
  if (!response.ok) {
    if (response.status === 401 && path !== "/session") hooks.sessionEnded();
    throw refusal(response.status, body);
  }
  return body as T;
}

export interface Download {
  blob: Blob;
  filename: string;
}

// The file name the service gives in Content-Disposition (RFC 6266's filename*, UTF-8), so a
// Chinese name survives; `fallback` when it names none.
function filenameOf(response: Response, fallback: string): string {
  const disposition = response.headers.get("Content-Disposition") ?? "";
  const encoded = /filename\*=UTF-8''([^;]+)/i.exec(disposition)?.[1];
  if (!encoded) return fallback;
  try {
    return decodeURIComponent(encoded);
  } catch {
    return fallback;
  }
}

// A request answered with a file (a sheet): the file, or the same refusals as `request`.
export async function requestFile(
  service: Service,
  method: "GET" | "POST",
  path: string,
  options: Sending & { accept: string; fallbackName: string },
): Promise<Download> {
  const response = await send(service, method, path, options);
  if (!response.ok) {
    if (response.status === 401) hooks.sessionEnded();
    throw refusal(response.status, await readJson(response));
  }
  return { blob: await response.blob(), filename: filenameOf(response, options.fallbackName) };
}

// Hands a downloaded file to the browser to save, under its own name.
export function saveFile(download: Download): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(download.blob);
  link.download = download.filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The browser has the file once the click is handled; the URL is not needed after that.
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

/** Fetches a list's export and hands it to the browser as a download, under the name the service
 * gives; a refusal is thrown as an ApiError rather than saved as a file holding the JSON refusal. */
export async function download(service: Service, path: string, query: Query, fallback: string): Promise<string> {
  const file = await requestFile(service, "GET", path, {
    query,
    accept: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, text/csv, */*",
    fallbackName: fallback,
  });
  saveFile(file);
  return file.filename;
}
