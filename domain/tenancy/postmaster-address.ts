import { z } from 'zod';
import { parseMailbox } from '../values/email-address.js';

/**
 * A server's postmaster address (Postal's): a bare address (no display name), its domain
 * lower-cased. Whether the domain is a verified one of the server is the store's check.
 */
export const PostmasterAddress = z
  .string()
  .trim()
  .max(320)
  .transform((text, ctx) => {
    const parsed = parseMailbox(text);
    if (!parsed.ok || text.includes('<')) {
      ctx.addIssue({ code: 'custom', message: `${text}: not an address (a@b.example)` });
      return z.NEVER;
    }
    const at = parsed.value.address.lastIndexOf('@');
    return `${parsed.value.address.slice(0, at)}@${parsed.value.domain}`;
  });

/**
 * The From of mail Postlog writes on a server's behalf (the DSN a Bounce route returns): the
 * server's postmaster address, else postmaster@ Postlog's own host name, which the operator
 * answers for (its MX is the inbound MX, which takes postmaster@ mail).
 */
export function postmasterOf(server: { postmasterAddress: string | null }, hostname: string): string {
  return server.postmasterAddress ?? `postmaster@${hostname.toLowerCase()}`;
}
