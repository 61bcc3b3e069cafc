import {
  deliveryId,
  messageEventCodec,
  webhookBody,
  webhookPayload,
  type MessageEvent,
  type MessageFacts,
} from '../../domain/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import {
  enabledEndpoints,
  insertOutboxRows,
  loadMessageFacts,
  saveMessageFacts,
  WEBHOOK_DELIVERIES,
  WEBHOOK_MESSAGES,
  type OutboxEndpoint,
  type OutboxRow,
} from '../../infra/webhooks/index.js';
import type { PostgresProjection } from '../runner.js';

/** Event types that never become a webhook: their messages need not be looked up. */
const silent = new Set([
  'MessageAccepted',
  'MessageQueued',
  'MessageReleased',
  'MessageContentExpired',
  'MessageRedeliveryRequested',
]);

const messageIdOf = (e: RecordedEvent) => Number(e.streamId.slice('message-'.length));

/**
 * The webhook outbox: for every message event that is a webhook event, one row per matching
 * endpoint, written in the transaction that moves the checkpoint — so each (endpoint, event) enters
 * the outbox exactly once; the dispatcher sends it from there (at-least-once, with retries).
 *
 * Not a read model that can be rebuilt: a replay must not send history again. An endpoint receives
 * events recorded after it was created, and events older than `maxAgeHours` are never queued, so
 * a replay (a version change) re-creates nothing that was sent or given up.
 */
export function webhookOutboxProjection(options: { maxAgeHours: number }): PostgresProjection {
  return {
    name: 'webhook-outbox',
    version: 1,
    filter: { streamPrefixes: ['message-'] },
    tables: [WEBHOOK_MESSAGES, WEBHOOK_DELIVERIES],
    // a replay keeps what is there (see above): nothing is emptied
    async reset() {},
    async apply(client, events) {
      const decoded: { r: RecordedEvent; e: MessageEvent }[] = [];
      for (const r of events) {
        const d = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
        if (!d.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.error.code}`);
        decoded.push({ r, e: d.value });
      }
      const facts = new Map<number, MessageFacts & { serverId: string }>();
      for (const { r, e } of decoded) {
        if (e.type !== 'MessageAccepted') continue;
        facts.set(messageIdOf(r), {
          messageId: messageIdOf(r),
          serverId: e.data.serverId,
          token: e.data.token,
          rfcMessageId: e.data.rfcMessageId,
          from: e.data.from,
          to: e.data.to,
          subject: e.data.subject,
          tag: e.data.tag ?? null,
          metadata: e.data.metadata ?? null,
          acceptedAt: e.data.at,
        });
      }
      await saveMessageFacts(client, [...facts.values()]);

      const endpoints = await enabledEndpoints(client);
      if (endpoints.length === 0) return;
      const oldest = Date.now() - options.maxAgeHours * 3600_000;
      const candidates = decoded.filter(({ r, e }) => !silent.has(e.type) && r.recordedAt.getTime() >= oldest);
      if (candidates.length === 0) return;
      const missing = [...new Set(candidates.map(({ r }) => messageIdOf(r)).filter((id) => !facts.has(id)))];
      for (const f of await loadMessageFacts(client, missing)) facts.set(f.messageId, f);

      const byServer = new Map<string, OutboxEndpoint[]>();
      for (const ep of endpoints) byServer.set(ep.serverId, [...(byServer.get(ep.serverId) ?? []), ep]);
      const rows: OutboxRow[] = [];
      for (const { r, e } of candidates) {
        const m = facts.get(messageIdOf(r));
        if (!m) continue; // its MessageAccepted never reached this projection: nothing to say about it
        const targets = (byServer.get(m.serverId) ?? []).filter(
          (ep) => ep.createdAt.getTime() <= r.recordedAt.getTime(),
        );
        if (targets.length === 0) continue;
        const hook = webhookPayload(e, m);
        if (!hook) continue;
        for (const ep of targets) {
          if (ep.events && !ep.events.includes(hook.event)) continue;
          const id = deliveryId(ep.id, r.eventId);
          rows.push({
            id,
            endpointId: ep.id,
            event: r,
            webhookEvent: hook.event,
            body: webhookBody(hook.event, r.recordedAt, hook.payload, id),
          });
        }
      }
      await insertOutboxRows(client, rows);
    },
  };
}
