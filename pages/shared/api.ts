/**
 * Fetch helpers of the pages: same-origin JSON, the CSRF token on every POST, and the server's typed
 * error `{ error: { code, message } }` turned into an ApiError the page can show.
 */

/** A refused call, with the catalogue's code. */
export class ApiError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

let csrfToken = "";

/** Remember the operator's CSRF token (from /admin/api/session). */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** GET a JSON route of this origin. */
export function getJson<T>(path: string): Promise<T> {
  return call<T>(path, { method: "GET" });
}

/** POST JSON with the CSRF token. */
export function postJson<T>(path: string, body: unknown): Promise<T> {
  return call<T>(path, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrfToken }, body: JSON.stringify(body) });
}

async function call<T>(path: string, init: RequestInit): Promise<T> {
  const response = await fetch(path, { ...init, credentials: "same-origin" });
  const body = (await response.json().catch(() => undefined)) as { error?: { code: string; message: string } } | undefined;
  if (!response.ok) throw new ApiError(body?.error?.code ?? String(response.status), body?.error?.message ?? response.statusText);
  return body as T;
}

/** A fresh id for an action (idempotency key), once per click. */
export function newId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
