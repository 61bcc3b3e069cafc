import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TrackingKeys } from '../../domain/index.js';

/** What a tracking link stands for: an open (pixel), a click (with its URL) or an unsubscribe. */
export type TrackingClaim =
  | { kind: 'open'; messageId: string; serverId: string }
  | { kind: 'click'; messageId: string; serverId: string; url: string }
  | { kind: 'unsubscribe'; messageId: string; serverId: string };

const KIND = { open: 'o', click: 'c', unsubscribe: 'u' } as const;
const KIND_OF: Record<string, TrackingClaim['kind']> = { o: 'open', c: 'click', u: 'unsubscribe' };

const sign = (key: string, payload: string) =>
  createHmac('sha256', key).update(payload).digest('base64url').slice(0, 22);

/**
 * `<payload>.<signature>`: the payload (base64url JSON) names the message, its server and, for
 * clicks, the URL; the signature is an HMAC with the server's tracking key. Nothing in a token
 * can be changed without the key, so a tracked link can never be turned into an open redirect.
 */
export function signClaim(claim: TrackingClaim, key: string): string {
  const body: Record<string, string> = { k: KIND[claim.kind], m: claim.messageId, s: claim.serverId };
  if (claim.kind === 'click') body.u = claim.url;
  const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
  return `${payload}.${sign(key, payload)}`;
}

/** The claim inside a token, without trusting it yet (to find the server whose key checks it). */
export function peekClaim(token: string): TrackingClaim | undefined {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined || payload.length > 8000) return undefined;
  try {
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const kind = KIND_OF[String(body.k)];
    if (!kind || typeof body.m !== 'string' || !/^\d{1,18}$/.test(body.m) || typeof body.s !== 'string')
      return undefined;
    if (kind === 'click')
      return typeof body.u === 'string' && /^https?:\/\//i.test(body.u)
        ? { kind, messageId: body.m, serverId: body.s, url: body.u }
        : undefined;
    return { kind, messageId: body.m, serverId: body.s } as TrackingClaim;
  } catch {
    return undefined;
  }
}

/** True when the token's signature is made with the server's current or previous key. */
export function verifyToken(token: string, keys: TrackingKeys): boolean {
  const [payload, signature] = token.split('.');
  if (!payload || !signature) return false;
  const given = Buffer.from(signature);
  return [keys.current, keys.previous].some((key) => {
    if (!key) return false;
    const expected = Buffer.from(sign(key, payload));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}

/** The mailto: half of List-Unsubscribe: `u-<message id>-<signature>@<return-path domain>`. */
export function unsubscribeMailbox(messageId: string, key: string, domain: string): string {
  return `u-${messageId}-${sign(key, `u.${messageId}`).slice(0, 16)}@${domain}`;
}

export function parseUnsubscribeMailbox(address: string): { messageId: string; signature: string } | undefined {
  const m = /^u-(\d{1,18})-([A-Za-z0-9_-]{16})@/.exec(address);
  return m ? { messageId: m[1]!, signature: m[2]! } : undefined;
}

export function verifyUnsubscribeMailbox(
  parsed: { messageId: string; signature: string },
  keys: TrackingKeys,
): boolean {
  return [keys.current, keys.previous].some(
    (key) => key !== null && sign(key, `u.${parsed.messageId}`).slice(0, 16) === parsed.signature,
  );
}
