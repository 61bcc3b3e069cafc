import { v5 as uuidv5 } from 'uuid';
import { sendLimitStreamId, sendLimitWarnings, tenancyEventCodec } from '../../domain/index.js';
import type { EventMetadata, EventStore } from '../../infra/event-store/index.js';
import type { Admission } from '../../infra/messages/index.js';

const WARNING_ID_NAMESPACE = 'a3c0f7e2-5d14-4b8e-9f61-2e7d0c9b4a58';

/**
 * Records SendLimitApproached / SendLimitExceeded when this request's messages crossed 90 % or 100 %
 * of the server's hourly limit. The event ids are derived from server, window and kind, so the log
 * holds each at most once per window, whoever appends it and however often.
 *
 * A warning the log refuses is not the request's failure (its messages are accepted and, past the
 * limit, held all the same): it is dropped, and the webhook it would have caused is not sent.
 */
export async function recordSendLimitWarnings(
  store: EventStore,
  serverId: string,
  limit: number,
  admission: Admission,
  at: string,
  metadata: EventMetadata,
): Promise<void> {
  const windowStart = admission.windowStart.toISOString();
  const events = sendLimitWarnings({
    serverId,
    limit,
    before: admission.before,
    after: admission.after,
    windowStart,
    at,
  });
  if (events.length === 0) return;
  await store
    .append(
      sendLimitStreamId(serverId),
      events.map((e) => ({
        eventId: uuidv5(`${serverId}:${windowStart}:${e.type}`, WARNING_ID_NAMESPACE),
        type: e.type,
        schemaVersion: tenancyEventCodec.schemaVersionOf(e.type),
        data: e.data,
        metadata,
      })),
      'any',
    )
    .catch(() => undefined);
}
