import { z } from 'zod';
import { normalizedAddress, parseDomainName, parseMailbox, type Mailbox } from '../values/email-address.js';

/**
 * An entry of a server's allowed senders (Postal's): one address (`billing@partner.example`) or
 * every address of a domain (`partner.example`), lower-cased. A message's Sender header may name
 * them although they are not the server's domains (a partner who sends on the server's behalf).
 */
export const AllowedSender = z
  .string()
  .trim()
  .toLowerCase()
  .max(320)
  .superRefine((entry, ctx) => {
    const ok = entry.includes('@') ? parseMailbox(entry).ok && !entry.includes('<') : parseDomainName(entry).ok;
    if (!ok) ctx.addIssue({ code: 'custom', message: `${entry}: an address (a@b.example) or a domain (b.example)` });
  });

/** Whether a Sender address is one the list allows: the address itself, or its whole domain. */
export function isAllowedSender(sender: Mailbox, allowed: readonly string[]): boolean {
  const address = normalizedAddress(sender);
  return allowed.some((entry) => (entry.includes('@') ? entry === address : entry === sender.domain));
}
