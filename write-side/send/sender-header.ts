import { err, isAllowedSender, ok, senderMailbox, type Result, type Server } from '../../domain/index.js';
import type { AcceptDeps } from './accept-messages.js';

/**
 * The Sender header (who sent a message on the From's behalf, RFC 5322 §3.6.2) of a raw message:
 * one mailbox of a verified domain of the server, or one of its allowed senders (an address or a
 * whole domain). The accept path holds From to the server's verified domains; without this a
 * Sender of any address rode on the server's DKIM signature. No Sender header is fine.
 */
export async function checkSenderHeader(
  deps: Pick<AcceptDeps, 'tenancy'>,
  server: Server,
  headers: { key: string; value: string }[],
): Promise<Result<void, string>> {
  const sender = senderMailbox(headers);
  if (!sender.ok) return err(sender.error);
  if (sender.value === undefined || isAllowedSender(sender.value, server.allowedSenders)) return ok(undefined);
  const domain = await deps.tenancy.sendingDomain(server.id, sender.value.domain);
  if (domain?.verified) return ok(undefined);
  return err(
    `the Sender ${sender.value.address} is not of a verified domain of this server, nor one of its allowed senders`,
  );
}
