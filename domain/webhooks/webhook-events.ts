import { z } from 'zod';

/**
 * The webhook events. The first ten are Postal's, with Postal's payloads, so a receiver written
 * for Postal works unchanged; the others are Postlog's own, in the same style.
 */
export const postalWebhookEvents = [
  'MessageSent',
  'MessageDelayed',
  'MessageDeliveryFailed',
  'MessageHeld',
  'MessageBounced',
  'MessageLinkClicked',
  'MessageLoaded',
  'DomainDNSError',
  'SendLimitApproaching',
  'SendLimitExceeded',
] as const;
export const postlogWebhookEvents = [
  'MessageUnsubscribed',
  'MessageComplained',
  'MessageCancelled',
  'MessageAutoReplied',
  // incoming messages (mail for a route)
  'MessageReceived',
  'IncomingMessageHeld',
  'IncomingMessageFailed',
  // accepted for delivery: sent in the formats that have it (SendGrid's processed, Mailgun's accepted,
  // Postlog's), never in Postal's, which has no such event
  'MessageAccepted',
  // the reputation guard (a server's or a sending domain's complaint or hard-bounce rate)
  'ReputationWarning',
  'SendingPaused',
  // blocklist monitoring: a sending IP or domain listed on, or delisted from, a DNS blocklist
  'IpListed',
  'IpDelisted',
  'DomainListed',
  'DomainDelisted',
] as const;
export const webhookEventNames = [...postalWebhookEvents, ...postlogWebhookEvents] as const;
export const WebhookEventName = z.enum(webhookEventNames);
export type WebhookEventName = z.infer<typeof WebhookEventName>;
