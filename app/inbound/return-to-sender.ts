import { randomUUID } from 'node:crypto';
import {
  deliveryFailureNotification,
  DSN_SUBJECT,
  parseMailbox,
  parseRecipient,
  postmasterOf,
  systemActor,
} from '../../domain/index.js';
import { SMTP_REPLIES } from '../../infra/smtp/reply-catalogue.js';
import type { BounceToReturn } from '../../mta/inbound/return-bounces.js';
import { acceptMessages } from '../../write-side/send/accept-messages.js';
import type { SendApiDeps } from '../../write-side/send/send-deps.js';

/**
 * The DSN of a recipient whose route bounces it (Postal's Bounce mode), accepted as an outgoing
 * message of the route's server: from the server's postmaster address (postmaster@ our host name
 * when it has none), to the envelope sender, logged and delivered like any of its mail.
 */
export function returnToSender(deps: SendApiDeps) {
  return async (b: BounceToReturn): Promise<string> => {
    const server = await deps.tenancy.getServer(systemActor('route-bounce'), b.serverId);
    if (!server.ok) throw new Error(`server ${b.serverId} is gone`);
    const from = parseMailbox(postmasterOf(server.value, deps.hostname));
    const to = parseRecipient(b.mailFrom, deps.recipients);
    if (!from.ok) throw new Error(`the postmaster address cannot send: ${from.error}`);
    if (!to.ok) throw new Error(`the sender ${b.mailFrom} cannot be written to: ${to.error}`);
    const end = b.raw.indexOf('\r\n\r\n');
    const bounces = SMTP_REPLIES.ROUTE_BOUNCES;
    const rfcMessageId = `${randomUUID()}@${deps.hostname}`;
    const raw = deliveryFailureNotification({
      reportingMta: deps.hostname,
      from: from.value.address,
      to: to.value.address,
      recipient: b.rcpt,
      reply: { code: bounces.reply, status: bounces.status, text: b.reply },
      arrivedAt: b.arrivedAt,
      now: deps.clock.now(),
      messageId: rfcMessageId,
      boundary: `dsn-${randomUUID()}`,
      originalHeaders: end < 0 ? b.raw : b.raw.subarray(0, end),
    });
    const accepted = await acceptMessages(deps, {
      server: server.value,
      from: from.value,
      contents: [raw],
      messages: [{ to: to.value, content: 0, rfcMessageId, subject: DSN_SUBJECT }],
      source: 'smtp',
      correlationId: `incoming-${b.incomingMessageId}`,
      actor: 'route-bounce',
      fromOwnHostname: server.value.postmasterAddress === null,
    });
    if (!accepted.ok) throw new Error(`${accepted.error.code}: ${accepted.error.message}`);
    return String(accepted.value.messages[0]!.id);
  };
}
