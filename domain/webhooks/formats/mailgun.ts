import type { WebhookEventName } from '../webhook-events.js';
import { bareMessageId, eventFacts, smtpCodes } from './event-facts.js';
import type { Formatter } from './format.js';

/** Mailgun's event for each webhook event it has a counterpart of. */
const mailgunEvents: Partial<Record<WebhookEventName, string>> = {
  MessageAccepted: 'accepted',
  MessageSent: 'delivered',
  MessageDelayed: 'failed',
  MessageDeliveryFailed: 'failed',
  MessageBounced: 'failed',
  MessageLoaded: 'opened',
  MessageLinkClicked: 'clicked',
  MessageUnsubscribed: 'unsubscribed',
  MessageComplained: 'complained',
};

/**
 * Mailgun's webhook body without its `signature` block: `{"event-data": {...}}`. The signature
 * (timestamp, token, HMAC) is made per attempt by the dispatcher, which puts it in front
 * (infra/webhooks/signers/mailgun.ts), so a receiver's freshness check passes on a retry too.
 */
export const mailgunFormat: Formatter = (i) => {
  const event = mailgunEvents[i.event];
  const m = i.message;
  if (!event || !m) return undefined;
  const f = eventFacts(i);
  const data: Record<string, unknown> = {
    id: i.eventId,
    event,
    timestamp: f.at,
    'log-level': event === 'failed' ? (f.failure?.permanent ? 'error' : 'warn') : 'info',
    recipient: m.to,
    'recipient-domain': m.to.slice(m.to.lastIndexOf('@') + 1),
    tags: m.tag ? [m.tag] : [],
    'user-variables': m.metadata ?? {},
    envelope: { sender: m.from, targets: m.to },
    message: {
      headers: { 'message-id': bareMessageId(m.rfcMessageId), from: m.from, to: m.to, subject: m.subject },
    },
  };
  if (event === 'delivered') {
    const reply = f.reply ?? '';
    data['delivery-status'] = {
      code: smtpCodes(reply).smtpCode ?? 250,
      message: reply.replace(/^\s*\d{3}[ -]?/, ''),
      description: f.details ?? '',
    };
  } else if (event === 'failed' && f.failure) {
    data.severity = f.failure.permanent ? 'permanent' : 'temporary';
    data.reason = f.failure.permanent ? 'bounce' : 'generic';
    data['delivery-status'] = {
      code: f.failure.smtpCode ?? (f.failure.permanent ? 550 : 450),
      message: f.failure.diagnostic.replace(/^\s*\d{3}[ -]?/, ''),
      description: f.details ?? f.failure.diagnostic,
      ...(f.failure.enhancedCode ? { 'enhanced-code': f.failure.enhancedCode } : {}),
    };
  } else if (event === 'opened' || event === 'clicked') {
    data.ip = f.ip;
    data['client-info'] = { 'user-agent': f.userAgent, 'client-type': f.machine ? 'robot' : 'unknown' };
    if (event === 'clicked') data.url = f.url;
  } else if (event === 'complained') {
    data['feedback-type'] = f.feedbackType;
  }
  return JSON.stringify({ 'event-data': data });
};
