/**
 * The dashboard's only way to the server: the same /v2 API every client uses, authenticated by the
 * session cookie. Mutations carry the session's CSRF token in `X-CSRF-Token`; errors come back as
 * the API's `{code, message, fields}` and are thrown as ApiError so pages can show the code.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The fields at fault: `body.postmasterAddress`, `body.allowedSenders.1`, or a bare name from the store. */
    readonly fields?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;

export function useCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when the session is gone (expired, logged out elsewhere): the app shows the login page. */
let onUnauthenticated: () => void = () => undefined;
export function whenUnauthenticated(handler: () => void): void {
  onUnauthenticated = handler;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  const json = text ? safeJson(text) : undefined;
  if (!res.ok) {
    const e = (json ?? {}) as { code?: string; message?: string; fields?: { path: string; message: string }[] };
    if (res.status === 401 && !path.startsWith('/v2/session')) onUnauthenticated();
    throw new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? res.statusText, e.fields);
  }
  return json as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * An error's messages per top-level body field (`allowedSenders` for `body.allowedSenders.1`), to show
 * each next to its field; empty when the error names none.
 */
export function fieldErrors(error: Error | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(error instanceof ApiError) || !Array.isArray(error.fields)) return out;
  for (const f of error.fields) {
    const name = f.path.replace(/^body\./, '').split('.')[0] ?? '';
    out[name] = out[name] ? `${out[name]}; ${f.message}` : f.message;
  }
  return out;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body);
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
