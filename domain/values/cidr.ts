import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { err, ok, type Result } from '../result.js';

/**
 * The widest ranges an SMTP-IP credential may hold: a range lets everyone in it send as the
 * server without a password, so a typo like 0.0.0.0/0 must not make Postlog an open relay for
 * the server's domains.
 */
export const WIDEST_PREFIX = { 4: 8, 6: 32 } as const;

/** A CIDR range (`192.0.2.0/24`, `2001:db8::/48`) or one address (a /32 or /128), host bits allowed. */
export function parseCidr(text: string): Result<{ address: string; prefix: number; family: 4 | 6 }, string> {
  const [address = '', bits, extra] = text.trim().split('/');
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined || extra !== undefined) return err('must be an IPv4 or IPv6 address or CIDR range');
  const max = family === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return err('the prefix length must be a number');
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return err(`the prefix length of an IPv${family} range is at most ${max}`);
  if (prefix < WIDEST_PREFIX[family])
    return err(`an IPv${family} range may be at most a /${WIDEST_PREFIX[family]} (anyone in it sends without AUTH)`);
  return ok({ address, prefix, family });
}

/** A CIDR range as a request names it (see parseCidr). */
export const Cidr = z
  .string()
  .trim()
  .max(64)
  .superRefine((text, ctx) => {
    const parsed = parseCidr(text);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
  });
