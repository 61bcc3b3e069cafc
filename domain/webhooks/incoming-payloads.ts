import { scanOf, type IncomingEvent, type IncomingScan } from '../incoming/index.js';
import type { MessageFacts } from './postal-payloads.js';
import type { WebhookEventName } from './webhook-events.js';

/** An incoming message as its webhooks describe it, in the style of Postal's message hash. */
function incomingHash(m: MessageFacts) {
  return {
    id: m.messageId,
    token: m.token,
    direction: 'incoming',
    message_id: m.rfcMessageId || null,
    to: m.to,
    from: m.from,
    subject: m.subject,
    timestamp: Date.parse(m.acceptedAt) / 1000,
  };
}

/**
 * Postlog's webhooks of incoming messages (Postal has none): received (with the scanners' and
 * authentication verdicts), held (by the route or as spam or a virus), and failed (an endpoint gave
 * up). `m` holds the message's envelope: `from` is the envelope sender, `to` the routed recipient;
 * `scanned` the verdict appended after IncomingReceived (older IncomingReceived events carry theirs).
 */
export function incomingWebhookPayload(
  e: IncomingEvent,
  m: MessageFacts,
  scanned?: IncomingScan,
): { event: WebhookEventName; payload: Record<string, unknown> } | undefined {
  switch (e.type) {
    case 'IncomingReceived': {
      // a bounce of the server's own mail is told by MessageBounced (its `bounce` hash names this message)
      if (e.data.bounceOf !== undefined) return undefined;
      const scan = scanOf(e.data, scanned);
      return {
        event: 'MessageReceived',
        payload: {
          message: incomingHash(m),
          route_id: e.data.routeId,
          spam_status: scan?.spamStatus ?? 'NotChecked',
          spam_score: scan?.spamScore ?? null,
          virus: scan?.virus ?? null,
          authentication: e.data.authentication
            ? {
                spf: e.data.authentication.spf,
                dkim: e.data.authentication.dkim,
                dmarc: e.data.authentication.dmarc,
                arc: e.data.authentication.arc,
              }
            : null,
          received_with_ssl: e.data.tls,
        },
      };
    }
    case 'IncomingHeld':
      return {
        event: 'IncomingMessageHeld',
        payload: { message: incomingHash(m), reason: e.data.reason, details: e.data.detail },
      };
    case 'IncomingFailed':
      return {
        event: 'IncomingMessageFailed',
        payload: {
          message: incomingHash(m),
          endpoint_id: e.data.endpointId,
          details: 'an endpoint of its route did not take the message, after every retry',
        },
      };
    default:
      return undefined;
  }
}
