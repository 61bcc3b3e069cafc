import { createHash } from 'node:crypto';
import type { MessageEvent } from '../message/index.js';
import type { WebhookEventName } from './webhook-events.js';

/** What a payload says about a message: what MessageAccepted recorded. */
export interface MessageFacts {
  messageId: number;
  token: string;
  rfcMessageId: string;
  from: string;
  to: string;
  subject: string;
  tag: string | null;
  metadata: Record<string, string> | null;
  acceptedAt: string;
  /** The scanners' verdict (Postal's spam_status), when the server checks its mail. */
  spamStatus?: string | null;
  spamScore?: number | null;
  /** The send request it was accepted in (SendGrid's X-Message-Id, the prefix of its sg_message_id). */
  batchId?: string | null;
}

/** Postal's message hash (lib/postal/message_db/message.rb, webhook_hash), plus our metadata. */
export function messageHash(m: MessageFacts) {
  return {
    id: m.messageId,
    token: m.token,
    direction: 'outgoing',
    message_id: m.rfcMessageId,
    to: m.to,
    from: m.from,
    subject: m.subject,
    timestamp: seconds(m.acceptedAt),
    spam_status: m.spamStatus ?? 'NotChecked',
    tag: m.tag,
    metadata: m.metadata ?? {},
  };
}

const seconds = (iso: string) => new Date(iso).getTime() / 1000;
const holdDetails: Record<string, string> = {
  development_mode: 'Server is in development mode.',
  suppressed: 'Recipient is on the suppression list.',
  manual: 'Held by an operator.',
  send_limit: 'Server has reached its send limit.',
  policy: 'Held by a policy.',
  spam: 'Message is likely spam.',
  reputation: "Sending is paused for the server's reputation.",
};

type DeliveryData = Extract<MessageEvent, { type: 'MessageDelivered' }>['data']['delivery'];
const replyOf = (d: DeliveryData | undefined) =>
  d?.reply
    ? `${d.reply.code} ${d.reply.enhancedCode ? `${d.reply.enhancedCode} ` : ''}${d.reply.text}`.slice(0, 512)
    : null;
const hostOf = (d: DeliveryData | undefined) =>
  d?.mxHost ? `${d.mxHost}${d.remoteIp ? ` (${d.remoteIp})` : ''}` : 'the destination';

/** Postal's delivery hash (lib/postal/message_db/delivery.rb, webhook_hash). */
function deliveryHash(
  m: MessageFacts,
  status: 'Sent' | 'SoftFail' | 'HardFail' | 'Held',
  details: string,
  at: string,
  d?: DeliveryData,
) {
  return {
    message: messageHash(m),
    status,
    details,
    output: replyOf(d),
    sent_with_ssl: Boolean(d?.tls),
    timestamp: seconds(at),
    time: d ? Math.round(d.durationMs / 10) / 100 : null,
  };
}

/** A stable token for a clicked link (Postal gives each link one). */
export const linkToken = (messageToken: string, url: string) =>
  createHash('sha256').update(`${messageToken}\n${url}`).digest('base64url').slice(0, 16);

/**
 * The webhook event and Postal-compatible payload for a message event, or undefined when the
 * event is not one receivers hear about (queued, released, content expired). MessageAccepted is
 * one, but not in Postal's format (formats/postal.ts).
 */
export function webhookPayload(
  e: MessageEvent,
  m: MessageFacts,
): { event: WebhookEventName; payload: Record<string, unknown> } | undefined {
  switch (e.type) {
    case 'MessageAccepted':
      return { event: 'MessageAccepted', payload: { message: messageHash(m), timestamp: seconds(e.data.at) } };
    case 'MessageDelivered':
      return {
        event: 'MessageSent',
        payload: deliveryHash(
          m,
          'Sent',
          `Message for ${m.to} accepted by ${hostOf(e.data.delivery)}`,
          e.data.at,
          e.data.delivery,
        ),
      };
    case 'MessageDeferred':
      return {
        event: 'MessageDelayed',
        payload: deliveryHash(
          m,
          'SoftFail',
          `${e.data.reason.replace(/[.\s]*$/, '.')} Will try again at ${e.data.nextAttemptAt}.`,
          e.data.at,
          e.data.delivery,
        ),
      };
    case 'MessageFailed':
      return { event: 'MessageDeliveryFailed', payload: deliveryHash(m, 'HardFail', e.data.reason, e.data.at) };
    case 'MessageHeld':
      return {
        event: 'MessageHeld',
        payload: deliveryHash(m, 'Held', e.data.detail ?? holdDetails[e.data.reason] ?? e.data.reason, e.data.at),
      };
    case 'MessageBounced':
      // refused during our own SMTP session: Postal reports that as a hard-failed delivery
      if (e.data.kind === 'sync')
        return {
          event: 'MessageDeliveryFailed',
          payload: deliveryHash(m, 'HardFail', e.data.diagnostic, e.data.at, e.data.delivery),
        };
      return {
        event: 'MessageBounced',
        payload: {
          original_message: messageHash(m),
          // Postal sends the bounce message's own hash: the incoming message that keeps the bounce mail
          // (store-bounce-mail.ts). Older bounces were not kept: no id, their token names their bytes
          bounce: {
            id: e.data.bounceMessage?.id !== undefined ? Number(e.data.bounceMessage.id) : null,
            token: e.data.bounceMessage?.token ?? null,
            direction: 'incoming',
            message_id: e.data.bounceMessage?.rfcMessageId ?? null,
            to: m.from,
            from: e.data.bounceMessage?.from ?? null,
            subject: e.data.bounceMessage?.subject ?? null,
            timestamp: seconds(e.data.at),
            spam_status: 'NotChecked',
            tag: null,
            type: e.data.suppress ? 'hard' : 'soft',
            classification: e.data.classification,
            diagnostic: e.data.diagnostic,
            enhanced_code: e.data.enhancedCode ?? null,
          },
        },
      };
    case 'MessageOpened':
      return {
        event: 'MessageLoaded',
        payload: {
          message: messageHash(m),
          ip_address: e.data.ip ?? null,
          user_agent: e.data.userAgent ?? null,
          machine: e.data.machine,
          timestamp: seconds(e.data.at),
        },
      };
    case 'MessageLinkClicked':
      return {
        event: 'MessageLinkClicked',
        payload: {
          message: messageHash(m),
          url: e.data.url,
          token: linkToken(m.token, e.data.url),
          ip_address: e.data.ip ?? null,
          user_agent: e.data.userAgent ?? null,
          machine: e.data.machine,
          timestamp: seconds(e.data.at),
        },
      };
    case 'MessageUnsubscribed':
      return {
        event: 'MessageUnsubscribed',
        payload: {
          message: messageHash(m),
          method: e.data.method,
          ip_address: e.data.ip ?? null,
          timestamp: seconds(e.data.at),
        },
      };
    case 'MessageComplained':
      return {
        event: 'MessageComplained',
        payload: {
          message: messageHash(m),
          feedback_type: e.data.feedbackType,
          source: e.data.source ?? null,
          timestamp: seconds(e.data.at),
        },
      };
    case 'MessageCancelled':
      return {
        event: 'MessageCancelled',
        payload: {
          message: messageHash(m),
          by: e.data.by ?? null,
          reason: e.data.reason ?? null,
          timestamp: seconds(e.data.at),
        },
      };
    case 'MessageAutoReplied':
      return {
        event: 'MessageAutoReplied',
        payload: {
          message: messageHash(m),
          from: e.data.from ?? null,
          subject: e.data.subject ?? null,
          timestamp: seconds(e.data.at),
        },
      };
    default:
      return undefined;
  }
}

/** The request body, as Postal builds it (app/models/webhook_request.rb): event, timestamp, payload, uuid. */
export function webhookBody(
  event: WebhookEventName,
  recordedAt: Date,
  payload: Record<string, unknown>,
  uuid: string,
): string {
  return JSON.stringify({ event, timestamp: recordedAt.getTime() / 1000, payload, uuid });
}

/** The delivery id (the body's "uuid"): derived from endpoint and event, so retries and replays carry the same one. */
export function deliveryId(endpointId: string, eventId: string): string {
  const h = createHash('sha256').update(`postlog-webhook:${endpointId}:${eventId}`).digest('hex');
  // RFC 9562 version 8 (custom), variant 10
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
