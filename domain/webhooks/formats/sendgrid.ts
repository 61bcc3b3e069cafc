import type { WebhookEventName } from '../webhook-events.js';
import { bareMessageId, eventFacts } from './event-facts.js';
import type { Formatter } from './format.js';

/** SendGrid's Event Webhook event for each webhook event it has a counterpart of. */
const sendgridEvents: Partial<Record<WebhookEventName, string>> = {
  MessageAccepted: 'processed',
  MessageSent: 'delivered',
  MessageDelayed: 'deferred',
  MessageDeliveryFailed: 'bounce',
  MessageBounced: 'bounce',
  MessageHeld: 'dropped',
  MessageCancelled: 'dropped',
  MessageLoaded: 'open',
  MessageLinkClicked: 'click',
  MessageComplained: 'spamreport',
  MessageUnsubscribed: 'unsubscribe',
};

/**
 * SendGrid's Event Webhook body: a JSON array of events (one per request here). The message's
 * metadata is spread as top-level keys, as SendGrid does with custom args; SendGrid's own keys win
 * over metadata of the same name.
 */
export const sendgridFormat: Formatter = (i) => {
  const event = sendgridEvents[i.event];
  const m = i.message;
  if (!event || !m) return undefined;
  const f = eventFacts(i);
  const specific: Record<string, unknown> = {};
  switch (event) {
    case 'delivered':
    case 'deferred':
      specific.response = f.reply ?? f.details;
      break;
    case 'bounce':
      // SendGrid: "bounce" when the address is refused for good, "blocked" when the refusal may pass
      specific.type = f.failure?.permanent === false ? 'blocked' : 'bounce';
      specific.reason = f.failure?.diagnostic ?? f.details;
      specific.status = f.failure?.enhancedCode ?? (f.failure?.smtpCode ? String(f.failure.smtpCode) : null);
      break;
    case 'dropped':
      specific.reason = f.details;
      break;
    case 'open':
      specific.useragent = f.userAgent;
      specific.ip = f.ip;
      specific.sg_machine_open = f.machine;
      break;
    case 'click':
      specific.url = f.url;
      specific.useragent = f.userAgent;
      specific.ip = f.ip;
      break;
  }
  return JSON.stringify([
    {
      ...(m.metadata ?? {}),
      email: m.to,
      timestamp: Math.floor(f.at),
      event,
      sg_event_id: i.eventId,
      // SendGrid's shape: the send's X-Message-Id (Postlog's batch id), a dot, then what names the recipient's copy
      sg_message_id: m.batchId ? `${m.batchId}.${m.messageId}` : String(m.messageId),
      'smtp-id': `<${bareMessageId(m.rfcMessageId)}>`,
      ...(m.tag ? { category: [m.tag] } : {}),
      ...specific,
    },
  ]);
};
