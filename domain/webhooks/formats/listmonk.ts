import { eventFacts } from './event-facts.js';
import type { Formatter } from './format.js';

/** The metadata key the campaign's id is kept under (SMTP submission stores X-Listmonk-Campaign there). */
export const LISTMONK_CAMPAIGN_KEY = 'listmonk-campaign';
/** The metadata key of the subscriber's id (X-Listmonk-Subscriber). */
export const LISTMONK_SUBSCRIBER_KEY = 'listmonk-subscriber';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Listmonk's bounce webhook body (POST /webhooks/bounce): bounces and complaints only, with the
 * campaign's id echoed back, so Listmonk counts the bounce against the campaign and subscriber.
 */
export const listmonkFormat: Formatter = (i) => {
  const m = i.message;
  if (!m) return undefined;
  const f = eventFacts(i);
  let type: 'hard' | 'soft' | 'complaint';
  if (i.event === 'MessageComplained') type = 'complaint';
  else if (i.event === 'MessageBounced' || i.event === 'MessageDeliveryFailed')
    type = f.failure?.permanent === false ? 'soft' : 'hard';
  else return undefined;
  const subscriber = m.metadata?.[LISTMONK_SUBSCRIBER_KEY];
  return JSON.stringify({
    email: m.to,
    ...(subscriber && uuid.test(subscriber) ? { subscriber_uuid: subscriber } : {}),
    campaign_uuid: m.metadata?.[LISTMONK_CAMPAIGN_KEY] ?? '',
    source: 'postlog',
    type,
    meta: {
      event: i.event,
      event_id: i.eventId,
      message_id: String(m.messageId),
      rfc_message_id: m.rfcMessageId,
      diagnostic: f.failure?.diagnostic ?? f.feedbackType ?? null,
      enhanced_code: f.failure?.enhancedCode ?? null,
    },
  });
};
