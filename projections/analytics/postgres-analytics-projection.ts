import type pg from 'pg';
import type { PostgresProjection } from '../runner.js';
import {
  ANALYTICS_EVENT_TYPES,
  analyticsRowOf,
  decodeMessageEvent,
  messageIdOfStream,
  type AnalyticsRow,
  type MessageDimensions,
} from './analytics-row.js';

/**
 * The embedded analytics store: analytics_events (one row per reported event) and the message
 * dimensions it needs for the events after MessageAccepted (analytics_messages), both written in
 * the transaction that moves the checkpoint: exactly once. ClickHouse replaces it when configured;
 * the reports read it through read-api/analytics/postgres-reports.ts.
 */
export const analyticsProjection: PostgresProjection = {
  name: 'analytics',
  version: 1,
  // only the events that give rows or change a message's dimensions
  filter: { streamPrefixes: ['message-'], types: [...ANALYTICS_EVENT_TYPES] },
  tables: ['analytics_events', 'analytics_messages'],
  async reset(client, t) {
    for (const table of this.tables) await client.query(`DELETE FROM ${t(table)}`);
  },
  async apply(client, events, t) {
    const ids = [...new Set(events.map((e) => messageIdOfStream(e.streamId)))];
    const known = await client.query<MessageDimensions & { message_id: string }>(
      `SELECT message_id::text, server_id::text, sending_domain, recipient_domain, tag, mailbox_provider, ip,
              to_char(accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS accepted_at FROM ${t('analytics_messages')} WHERE message_id = ANY($1::bigint[])`,
      [ids],
    );
    const dims = new Map<string, MessageDimensions>(known.rows.map(({ message_id, ...d }) => [message_id, d]));
    const changed = new Set<string>();
    const rows: AnalyticsRow[] = [];
    for (const r of events) {
      const id = messageIdOfStream(r.streamId);
      const before = dims.get(id);
      const { dimensions, row } = analyticsRowOf(r, decodeMessageEvent(r), before);
      if (dimensions && dimensions !== before) {
        dims.set(id, dimensions);
        changed.add(id);
      }
      if (row) rows.push(row);
    }
    await insertEvents(client, t('analytics_events'), rows);
    await upsertDimensions(
      client,
      t('analytics_messages'),
      [...changed].map((id) => ({ id, d: dims.get(id)! })),
    );
  },
};

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
] as const satisfies readonly (readonly [keyof AnalyticsRow, string])[];

/** One statement per batch: a column array per column, unnested. (The attempt details ClickHouse keeps are not reported: not stored here.) */
async function insertEvents(client: pg.PoolClient, table: string, rows: AnalyticsRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO ${table} (${EVENT_COLUMNS.map(([c]) => c).join(', ')})
     SELECT * FROM unnest(${EVENT_COLUMNS.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ')})
     ON CONFLICT (event_id) DO NOTHING`,
    EVENT_COLUMNS.map(([c]) => rows.map((r) => r[c])),
  );
}

async function upsertDimensions(
  client: pg.PoolClient,
  table: string,
  rows: { id: string; d: MessageDimensions }[],
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
