import type { Logger } from '../../infra/logging/index.js';
import type { Envelope, Received } from './receive-routed.js';

/** A recipient of a message received with a 250 whose route bounces it: its DSN goes to the sender. */
export interface BounceToReturn {
  serverId: string;
  /** The incoming message kept as bounced. */
  incomingMessageId: string;
  /** The envelope sender: the DSN's recipient. */
  mailFrom: string;
  rcpt: string;
  /** The disposition's text (the 5xx a refusal would have answered with). */
  reply: string;
  raw: Buffer;
  arrivedAt: Date;
}

/** Accepts the DSN as an outgoing message of the server (app/inbound/return-to-sender.ts); its id. */
export type ReturnToSender = (bounce: BounceToReturn) => Promise<string>;

/**
 * The DSN of every Bounce-mode recipient of a message that was answered 250 (its other recipients
 * took it), as Postal sends one: through our own outbound path, so it is logged and delivered like
 * any mail. A message whose every recipient bounces is refused with a 5xx instead and the sender's
 * own server writes the DSN. A null sender (<>) is a bounce itself: nothing answers it. A DSN that
 * cannot be accepted is logged; the message stays received (answering 451 would store it twice).
 */
export async function returnBounces(
  returnToSender: ReturnToSender | undefined,
  log: Logger,
  raw: Buffer,
  envelope: Envelope,
  received: Received[],
  arrivedAt: Date,
): Promise<void> {
  const bounced = received.filter((r) => r.disposition === 'bounce');
  if (bounced.length === 0 || !returnToSender) return;
  if (envelope.mailFrom === '') {
    log.info({ rcpt: bounced.map((r) => r.rcpt) }, 'no DSN for a bounced recipient: the sender is null (<>)');
    return;
  }
  for (const r of bounced) {
    try {
      const id = await returnToSender({
        serverId: r.serverId,
        incomingMessageId: r.messageId,
        mailFrom: envelope.mailFrom,
        rcpt: r.rcpt,
        reply: r.reply ?? 'This address takes no mail',
        raw,
        arrivedAt,
      });
      log.info({ messageId: r.messageId, dsn: id, to: envelope.mailFrom }, 'DSN of a bounced recipient accepted');
    } catch (err) {
      log.error(
        { messageId: r.messageId, to: envelope.mailFrom, error: (err as Error).message },
        'the DSN of a bounced recipient could not be accepted',
      );
    }
  }
}
