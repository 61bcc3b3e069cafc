import { eventFacts, isoOf } from './event-facts.js';
import type { Formatter } from './format.js';

/**
 * Postlog's own body, for every event: ids and times spelled out, the message's facts (with its tag
 * and metadata) in one place, and the rest of the Postal payload under `data`.
 */
export const postlogFormat: Formatter = (i) => {
  const { message: _message, original_message: _original, ...data } = i.payload;
  const m = i.message;
  const direction = (i.payload.message as { direction?: string } | undefined)?.direction ?? 'outgoing';
  return JSON.stringify({
    event: i.event,
    id: i.deliveryId,
    event_id: i.eventId,
    occurred_at: isoOf(eventFacts(i).at),
    recorded_at: i.recordedAt.toISOString(),
    server_id: i.serverId,
    message: m
      ? {
          id: String(m.messageId),
          token: m.token,
          direction,
          message_id: m.rfcMessageId,
          from: m.from,
          to: m.to,
          subject: m.subject,
          tag: m.tag,
          metadata: m.metadata ?? {},
          accepted_at: m.acceptedAt,
        }
      : null,
    data,
  });
};
