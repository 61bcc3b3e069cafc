/**
 * An endpoint URL's Basic auth password (https://user:pass@host/…, how Postmark and Listmonk
 * receivers take credentials) is a secret: the API shows it as REDACTED, and a URL sent back with
 * REDACTED in its place keeps the stored password (so a form that shows the URL can save it again).
 */
export const REDACTED_PASSWORD = '********';

/** The URL as the API shows it: its password, if any, redacted. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = REDACTED_PASSWORD;
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * A URL given to change an endpoint, its redacted password replaced by the one `stored` has — only
 * for the same user at the same origin: a redacted URL pointed elsewhere must not carry the password
 * to a host of the caller's choosing (there it stays the literal REDACTED).
 */
export function withStoredPassword(url: string, stored: string): string {
  try {
    const u = new URL(url);
    const s = new URL(stored);
    if (decodeURIComponent(u.password) !== REDACTED_PASSWORD) return url;
    if (u.origin !== s.origin || u.username !== s.username) return url;
    u.password = s.password;
    return u.toString();
  } catch {
    return url;
  }
}
