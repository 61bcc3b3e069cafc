import { createHash } from 'node:crypto';
import type { BounceMessage } from '../../domain/index.js';
import type { ContentStore } from '../../infra/content/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { MessageIdAllocator } from '../../infra/messages/index.js';
import { handleIncomingCommand } from '../../write-side/incoming/incoming-command-handler.js';
import type { Email } from './inbound-processor.js';
import type { Envelope } from './receive-routed.js';
import type { z } from 'zod';

export interface BounceMailDeps {
  eventStore: EventStore;
  contents: ContentStore;
  messageIds: MessageIdAllocator;
  logger: Logger;
}

/** What Postal's MessageBounced webhook tells of the bounce mail itself (its id once it is kept). */
export function bounceMessageOf(raw: Buffer, email: Email): z.infer<typeof BounceMessage> {
  const rfcMessageId = email.messageId?.trim().replace(/^<|>$/g, '');
  const from = email.from && 'address' in email.from ? email.from.address : undefined;
  return {
    // the same mail (a repeat) has the same token
    token: createHash('sha256').update(raw).digest('hex').slice(0, 16),
    ...(rfcMessageId ? { rfcMessageId: rfcMessageId.slice(0, 500) } : {}),
    ...(from ? { from: from.slice(0, 500) } : {}),
    ...(email.subject ? { subject: email.subject.slice(0, 500) } : {}),
  };
}

/**
 * A bounce of one of a server's messages is kept as an incoming message of that server, as Postal
 * keeps it: listed with its incoming mail, its bytes downloadable, no route (nothing is handed on)
 * and stored. Its token is the bounce's own, so the MessageBounced webhook's `bounce` hash names a
 * message GET /v2/messages/{id} finds. What MessageBounced is to say of it: without an id when it
 * could not be kept (the bounce is still recorded).
 */
export async function storeBounceMail(
  deps: BounceMailDeps,
  raw: Buffer,
  email: Email,
  envelope: Envelope,
  bounce: { serverId: string; rcpt: string; bounceOf: string; at: string },
): Promise<z.infer<typeof BounceMessage>> {
  const described = bounceMessageOf(raw, email);
  const [contentHash, [id]] = await Promise.all([deps.contents.put(raw), deps.messageIds.take(1)]);
  const messageId = String(id);
  const from = email.from && 'address' in email.from && email.from.address ? email.from : undefined;
  const result = await handleIncomingCommand(
    deps.eventStore,
    messageId,
    {
      type: 'Receive',
      message: {
        messageId,
        serverId: bounce.serverId,
        routeId: '',
        token: described.token,
        rfcMessageId: described.rfcMessageId ?? '',
        mailFrom: envelope.mailFrom,
        rcptTo: bounce.rcpt,
        from: (from ? (from.name ? `${from.name} <${from.address}>` : from.address!) : '').slice(0, 998),
        subject: (email.subject ?? '').slice(0, 998),
        contentHash,
        size: raw.length,
        clientIp: envelope.clientIp,
        helo: envelope.helo.slice(0, 255),
        tls: envelope.tls,
        bounceOf: bounce.bounceOf,
      },
      disposition: { kind: 'store' },
      at: bounce.at,
    },
    { serverId: bounce.serverId, actor: 'inbound', correlationId: `inbound-${bounce.bounceOf}` },
  );
  if (result.ok) return { ...described, id: messageId };
  deps.logger.warn({ messageId, bounceOf: bounce.bounceOf, error: result.error }, 'a bounce mail was not kept');
  return described;
}
