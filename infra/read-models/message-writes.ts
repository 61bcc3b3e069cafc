import type pg from 'pg';
import type { DeliveryAttempt } from '../../domain/index.js';

/**
 * The message read models projection's statements (projections/read-models/message-read-models.ts):
 * a batch reads the rows of the messages it touches once, then writes one statement per table.
 * Each takes the name of the table to use: the live one, or the copy a rebuild fills
 * (projections/runner.ts, TableNames).
 */

/** One row of the messages table, as the projection keeps it in memory while folding a batch. */
export interface MessageRow {
  message_id: number;
  server_id: string;
  batch_id: string;
  rfc_message_id: string;
  mail_from: string;
  rcpt_to: string;
  recipient_domain: string;
  subject: string;
  tag: string | null;
  source: string;
  size: number;
  status: string;
  held_reason: string | null;
  attempts: number;
  last_reply: string | null;
  bounce_classification: string | null;
  opens: number;
  clicks: number;
  accepted_at: string;
  last_event_at: string;
  delivered_at: string | null;
  content_hash: string;
  content_expired: boolean;
  direction: 'outgoing' | 'incoming';
  spam_status: string | null;
  spam_score: number | null;
}

const COLUMNS: (keyof MessageRow)[] = [
  'message_id',
  'server_id',
  'batch_id',
  'rfc_message_id',
  'mail_from',
  'rcpt_to',
  'recipient_domain',
  'subject',
  'tag',
  'source',
  'size',
  'status',
  'held_reason',
  'attempts',
  'last_reply',
  'bounce_classification',
  'opens',
  'clicks',
  'accepted_at',
  'last_event_at',
  'delivered_at',
  'content_hash',
  'content_expired',
  'direction',
  'spam_status',
  'spam_score',
];
const TYPES: Record<keyof MessageRow, string> = {
  message_id: 'bigint',
  server_id: 'uuid',
  batch_id: 'text',
  rfc_message_id: 'text',
  mail_from: 'text',
  rcpt_to: 'text',
  recipient_domain: 'text',
  subject: 'text',
  tag: 'text',
  source: 'text',
  size: 'int',
  status: 'text',
  held_reason: 'text',
  attempts: 'int',
  last_reply: 'text',
  bounce_classification: 'text',
  opens: 'int',
  clicks: 'int',
  accepted_at: 'timestamptz',
  last_event_at: 'timestamptz',
  delivered_at: 'timestamptz',
  content_hash: 'text',
  content_expired: 'boolean',
  direction: 'text',
  spam_status: 'text',
  spam_score: 'real',
};

/** The daily counters, one column each. */
export const STAT_COLUMNS = [
  'accepted',
  'held',
  'delivered',
  'deferred',
  'bounced',
  'failed',
  'cancelled',
  'opened_total',
  'opened_unique',
  'clicked_total',
  'clicked_unique',
  'complained',
  'unsubscribed',
] as const;
export type Stat = (typeof STAT_COLUMNS)[number];

/** A delivery attempt of a message, for the attempts table. */
export interface DeliveryRow {
  message_id: number;
  attempt: number;
  outcome: string;
  d: DeliveryAttempt;
}

/** The rows of these messages, timestamps as ISO 8601 in UTC with milliseconds (as the events carry them). */
export async function readMessageRows(client: pg.ClientBase, table: string, ids: number[]): Promise<MessageRow[]> {
  const { rows } = await client.query<MessageRow>(
    `SELECT ${COLUMNS.map((c) => (TYPES[c] === 'timestamptz' ? `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${c}` : c)).join(', ')}
         FROM ${table} WHERE message_id = ANY($1::bigint[])`,
    [ids],
  );
  return rows;
}

/** The batch's messages as they now are, one statement: each row is written whole. */
export async function upsertMessageRows(client: pg.ClientBase, table: string, messages: MessageRow[]): Promise<void> {
  if (messages.length === 0) return;
  await client.query(
    `INSERT INTO ${table} (${COLUMNS.join(', ')})
       SELECT * FROM unnest(${COLUMNS.map((c, i) => `$${i + 1}::${TYPES[c]}[]`).join(', ')})
       ON CONFLICT (message_id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'message_id')
         .map((c) => `${c} = excluded.${c}`)
         .join(', ')}`,
    COLUMNS.map((c) => messages.map((m) => m[c])),
  );
}

/**
 * The statuses of the batch's messages, for the list's status filter (messages-schema.ts, migration
 * 48): one statement; a row whose status is the same is left as it is (no write).
 */
export async function upsertMessageStatusRows(
  client: pg.ClientBase,
  table: string,
  messages: MessageRow[],
): Promise<void> {
  if (messages.length === 0) return;
  await client.query(
    `INSERT INTO ${table} AS s (message_id, server_id, direction, status, accepted_at)
       SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[])
       ON CONFLICT (message_id) DO UPDATE SET status = excluded.status WHERE s.status <> excluded.status`,
    [
      messages.map((m) => m.message_id),
      messages.map((m) => m.server_id),
      messages.map((m) => m.direction),
      messages.map((m) => m.status),
      messages.map((m) => m.accepted_at),
    ],
  );
}

/** The batch's delivery attempts, one statement. */
export async function upsertDeliveryRows(
  client: pg.ClientBase,
  table: string,
  deliveries: DeliveryRow[],
): Promise<void> {
  if (deliveries.length === 0) return;
  // one row per attempt: if an attempt was recorded twice, the last record stands
  deliveries = [...new Map(deliveries.map((d) => [`${d.message_id}:${d.attempt}`, d])).values()];
  const col = <T>(f: (r: DeliveryRow) => T) => deliveries.map(f);
  await client.query(
    `INSERT INTO ${table} (message_id, attempt, outcome, at, mx_host, remote_ip, local_ip, tls_protocol, tls_cipher, smtp_code, enhanced_code, smtp_text, duration_ms)
       SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::text[], $12::text[], $13::int[])
       ON CONFLICT (message_id, attempt) DO UPDATE SET outcome = excluded.outcome`,
    [
      col((r) => r.message_id),
      col((r) => r.attempt),
      col((r) => r.outcome),
      col((r) => r.d.at),
      col((r) => r.d.mxHost ?? null),
      col((r) => r.d.remoteIp ?? null),
      col((r) => r.d.localIp ?? null),
      col((r) => r.d.tls?.protocol ?? null),
      col((r) => r.d.tls?.cipher ?? null),
      col((r) => r.d.reply?.code ?? null),
      col((r) => r.d.reply?.enhancedCode ?? null),
      col((r) => r.d.reply?.text ?? null),
      col((r) => Math.round(r.d.durationMs)),
    ],
  );
}

/** Adds the batch's counts to the daily counters, keyed by `${serverId}|${YYYY-MM-DD}`; one statement. */
export async function addDailyStats(
  client: pg.ClientBase,
  table: string,
  stats: Map<string, Record<Stat, number>>,
): Promise<void> {
  if (stats.size === 0) return;
  const keys = [...stats.keys()];
  await client.query(
    `INSERT INTO ${table} (server_id, day, ${STAT_COLUMNS.join(', ')})
       SELECT * FROM unnest($1::uuid[], $2::date[], ${STAT_COLUMNS.map((_, i) => `$${i + 3}::int[]`).join(', ')})
       ON CONFLICT (server_id, day) DO UPDATE SET ${STAT_COLUMNS.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ')}`,
    [
      keys.map((k) => k.split('|')[0]),
      keys.map((k) => k.split('|')[1]),
      ...STAT_COLUMNS.map((c) => keys.map((k) => stats.get(k)![c])),
    ],
  );
}
