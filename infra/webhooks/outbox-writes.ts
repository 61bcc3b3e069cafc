import type pg from 'pg';
import type { MessageFacts, WebhookFormat } from '../../domain/index.js';
import type { RecordedEvent } from '../event-store/index.js';

/**
 * The webhook outbox projection's statements (projections/webhooks/webhook-outbox-projection.ts):
 * what it keeps about each message, the endpoints it queues for, and the outbox rows it adds. Each
 * runs on the connection it is given, in the transaction that moves the projection's checkpoint.
 */

/** An enabled endpoint, as the projection matches events to it. */
export interface OutboxEndpoint {
  id: string;
  serverId: string;
  /** null: every event */
  events: string[] | null;
  /** The body format it receives (domain/webhooks/formats/). */
  format: WebhookFormat;
  createdAt: Date;
}

/** A webhook to send: one event for one endpoint. */
export interface OutboxRow {
  id: string;
  endpointId: string;
  event: RecordedEvent;
  webhookEvent: string;
  body: string;
  /** The format the body was made in (its signer at dispatch). */
  format: WebhookFormat;
}

/** What the payloads of a message's later events need, kept from its MessageAccepted (a message kept once). */
export async function saveMessageFacts(
  client: pg.ClientBase,
  facts: (MessageFacts & { serverId: string })[],
): Promise<void> {
  if (facts.length === 0) return;
  await client.query(
    `INSERT INTO webhook_messages (message_id, server_id, token, rfc_message_id, mail_from, rcpt_to, subject, tag, metadata, accepted_at, spam_status, spam_score, batch_id)
     SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::timestamptz[], $11::text[], $12::real[], $13::text[])
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
      facts.map((f) => f.spamStatus ?? null),
      facts.map((f) => f.spamScore ?? null),
      facts.map((f) => f.batchId ?? null),
    ],
  );
}

/** The kept facts of these messages (those it has). */
export async function loadMessageFacts(
  client: pg.ClientBase,
  ids: number[],
): Promise<(MessageFacts & { serverId: string })[]> {
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
    spamStatus: r.spam_status,
    spamScore: r.spam_score,
    batchId: r.batch_id,
  }));
}

/** Every enabled endpoint. */
export async function enabledEndpoints(client: pg.ClientBase): Promise<OutboxEndpoint[]> {
  const { rows } = await client.query(
    'SELECT id, server_id, events, format, created_at FROM webhook_endpoints WHERE enabled',
  );
  return rows.map((r) => ({
    id: r.id,
    serverId: r.server_id,
    events: r.events,
    format: r.format,
    createdAt: r.created_at,
  }));
}

/** Adds the webhooks to the outbox, one statement; one already there (the same endpoint and event) stays as it is. */
export async function insertOutboxRows(client: pg.ClientBase, rows: OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, webhook_event, stream_id, stream_revision, event_at, body, format, retry_base_at)
     SELECT u.*, u.event_at FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[], $9::text[], $10::text[])
       AS u(id, endpoint_id, event_id, event_type, webhook_event, stream_id, stream_revision, event_at, body, format)
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
      rows.map((r) => r.format),
    ],
  );
}
