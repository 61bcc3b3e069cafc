import type pg from 'pg';

/**
 * The embedded analytics projection's statements (projections/analytics/postgres-analytics-projection.ts):
 * a batch reads the dimensions of the messages it touches once, then writes its event rows and the
 * dimensions that changed, one statement each. Each takes the name of the table to use: the live
 * one, or the copy a rebuild fills (projections/runner.ts, TableNames).
 */

/**
 * What every event of a message is reported under, as the dimensions table keeps it
 * (projections/analytics/analytics-row.ts decides the values).
 */
export interface MessageDimensionsRow {
  server_id: string;
  sending_domain: string;
  recipient_domain: string;
  tag: string;
  mailbox_provider: string;
  ip: string;
  /** ISO 8601 */
  accepted_at: string;
}

/** One row of the events table; the keys are its column names. */
export interface AnalyticsEventRow extends MessageDimensionsRow {
  event_id: string;
  event_type: string;
  event_time: string;
  message_id: string;
  bounce_classification: string;
  url: string;
  machine: boolean;
}

/** The dimensions of these messages, by message id (accepted_at as ISO 8601 in UTC with milliseconds). */
export async function readMessageDimensions(
  client: pg.ClientBase,
  table: string,
  ids: string[],
): Promise<(MessageDimensionsRow & { message_id: string })[]> {
  const known = await client.query<MessageDimensionsRow & { message_id: string }>(
    `SELECT message_id::text, server_id::text, sending_domain, recipient_domain, tag, mailbox_provider, ip,
              to_char(accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS accepted_at FROM ${table} WHERE message_id = ANY($1::bigint[])`,
    [ids],
  );
  return known.rows;
}

const EVENT_COLUMNS = [
  ['event_id', 'uuid'],
  ['event_type', 'text'],
  ['event_time', 'timestamptz'],
  ['server_id', 'uuid'],
  ['message_id', 'bigint'],
  ['recipient_domain', 'text'],
  ['mailbox_provider', 'text'],
  ['sending_domain', 'text'],
  ['tag', 'text'],
  ['ip', 'text'],
  ['bounce_classification', 'text'],
  ['url', 'text'],
  ['machine', 'boolean'],
] as const satisfies readonly (readonly [keyof AnalyticsEventRow, string])[];

/**
 * One statement per batch: a column array per column, unnested. (The attempt details ClickHouse
 * keeps are not reported: not stored here.)
 */
export async function insertAnalyticsEvents(
  client: pg.ClientBase,
  table: string,
  rows: AnalyticsEventRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO ${table} (${EVENT_COLUMNS.map(([c]) => c).join(', ')})
     SELECT * FROM unnest(${EVENT_COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})
     ON CONFLICT (event_id) DO NOTHING`,
    EVENT_COLUMNS.map(([c]) => rows.map((r) => r[c])),
  );
}

/** The messages' dimensions as they now are, one statement. */
export async function upsertMessageDimensions(
  client: pg.ClientBase,
  table: string,
  rows: { id: string; d: MessageDimensionsRow }[],
): Promise<void> {
  if (rows.length === 0) return;
  const cols = [
    'server_id',
    'sending_domain',
    'recipient_domain',
    'tag',
    'mailbox_provider',
    'ip',
    'accepted_at',
  ] as const;
  await client.query(
    `INSERT INTO ${table} (message_id, ${cols.join(', ')})
     SELECT * FROM unnest($1::bigint[], $2::uuid[], ${cols
       .slice(1, -1)
       .map((_, i) => `$${i + 3}::text[]`)
       .join(', ')}, $${cols.length + 1}::timestamptz[])
     ON CONFLICT (message_id) DO UPDATE SET ${cols.map((c) => `${c} = excluded.${c}`).join(', ')}`,
    [rows.map((r) => r.id), ...cols.map((c) => rows.map((r) => r.d[c]))],
  );
}
