import type pg from 'pg';
import {
  deliveryId,
  messageEventCodec,
  webhookBody,
  webhookPayload,
  type MessageEvent,
  type MessageFacts,
} from '../../domain/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import type { PostgresProjection } from '../runner.js';

interface Endpoint {
  id: string;
  serverId: string;
  events: string[] | null;
  createdAt: Date;
}

interface OutboxRow {
  id: string;
  endpointId: string;
  event: RecordedEvent;
  webhookEvent: string;
  body: string;
}

/** Event types that never become a webhook: their messages need not be looked up. */
const silent = new Set(['MessageAccepted', 'MessageQueued', 'MessageReleased', 'MessageContentExpired']);

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
    tables: ['webhook_messages', 'webhook_deliveries'],
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
      await saveFacts(client, [...facts.values()]);

      const endpoints = await enabledEndpoints(client);
      if (endpoints.length === 0) return;
      const oldest = Date.now() - options.maxAgeHours * 3600_000;
      const candidates = decoded.filter(({ r, e }) => !silent.has(e.type) && r.recordedAt.getTime() >= oldest);
      if (candidates.length === 0) return;
      const missing = [...new Set(candidates.map(({ r }) => messageIdOf(r)).filter((id) => !facts.has(id)))];
      for (const f of await loadFacts(client, missing)) facts.set(f.messageId, f);

      const byServer = new Map<string, Endpoint[]>();
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
      await insertOutbox(client, rows);
    },
  };
}

async function saveFacts(client: pg.PoolClient, facts: (MessageFacts & { serverId: string })[]): Promise<void> {
  if (facts.length === 0) return;
  await client.query(
    `INSERT INTO webhook_messages (message_id, server_id, token, rfc_message_id, mail_from, rcpt_to, subject, tag, metadata, accepted_at)
     SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::timestamptz[])
     ON CONFLICT (message_id) DO NOTHING`,
    [
      facts.map((f) => f.messageId),
      facts.map((f) => f.serverId),
      facts.map((f) => f.token),
      facts.map((f) => f.rfcMessageId),
      facts.map((f) => f.from),
      facts.map((f) => f.to),
      facts.map((f) => f.subject),
      facts.map((f) => f.tag),
      facts.map((f) => (f.metadata ? JSON.stringify(f.metadata) : null)),
      facts.map((f) => f.acceptedAt),
    ],
  );
}

async function loadFacts(client: pg.PoolClient, ids: number[]): Promise<(MessageFacts & { serverId: string })[]> {
  if (ids.length === 0) return [];
  const { rows } = await client.query('SELECT * FROM webhook_messages WHERE message_id = ANY($1::bigint[])', [ids]);
  return rows.map((r) => ({
    messageId: Number(r.message_id),
    serverId: r.server_id,
    token: r.token,
    rfcMessageId: r.rfc_message_id,
    from: r.mail_from,
    to: r.rcpt_to,
    subject: r.subject,
    tag: r.tag,
    metadata: r.metadata,
    acceptedAt: (r.accepted_at as Date).toISOString(),
  }));
}

async function enabledEndpoints(client: pg.PoolClient): Promise<Endpoint[]> {
  const { rows } = await client.query('SELECT id, server_id, events, created_at FROM webhook_endpoints WHERE enabled');
  return rows.map((r) => ({ id: r.id, serverId: r.server_id, events: r.events, createdAt: r.created_at }));
}

async function insertOutbox(client: pg.PoolClient, rows: OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, webhook_event, stream_id, stream_revision, event_at, body, retry_base_at)
     SELECT u.*, u.event_at FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[], $9::text[])
       AS u(id, endpoint_id, event_id, event_type, webhook_event, stream_id, stream_revision, event_at, body)
     ON CONFLICT (endpoint_id, event_id) DO NOTHING`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.endpointId),
      rows.map((r) => r.event.eventId),
      rows.map((r) => r.event.type),
      rows.map((r) => r.webhookEvent),
      rows.map((r) => r.event.streamId),
      rows.map((r) => r.event.revision),
      rows.map((r) => r.event.recordedAt.toISOString()),
      rows.map((r) => r.body),
    ],
  );
}
