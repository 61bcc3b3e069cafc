import type { ClickHouse } from './client.js';
import type { RowBinaryColumn } from './row-binary.js';
import { join, sql } from './sql.js';

/**
 * The analytics events table: one row per message lifecycle or engagement event, with the
 * message's dimensions copied onto it (denormalised: the reports never join). Created by
 * migration 1 in migrations-list.ts; EventRow is its row as the projection inserts it (JSONEachRow).
 *
 * Duplicates. Delivery into ClickHouse is at-least-once: the checkpoint moves after ClickHouse
 * acknowledged, so after a crash the events since the checkpoint come again. Three layers keep
 * them from counting twice:
 * 1. insertEvents(…, { mayExist: true }) — for batches that may already be in ClickHouse (the first
 *    ones after a start, a retry after a failed insert) — drops the rows whose event id is there.
 *    Steady state costs nothing; only replays pay for the lookup.
 * 2. The table is a ReplacingMergeTree whose sorting key ends with event_id: a copy that still got
 *    in (an insert from a dying process landing after the new leader's lookup) shares the whole key
 *    with the original and a background merge keeps one.
 * 3. Queries: count() for totals and time series (exact given 1 and 2; measured 120–250 ms for a
 *    30-day funnel over the busiest server of 10 M events on 18.16); uniqExact(message_id) for
 *    distinct messages (unique opens/clicks), which copies cannot inflate; FINAL for audits and
 *    verification (exact whatever happened, but 1–3 s there: not for dashboards).
 */
export const EVENTS_TABLE = 'events';

export interface EventRow {
  /** The log's event id (UUIDv7): the deduplication key. */
  event_id: string;
  /** The log's global position (as a decimal string when beyond 2^53). */
  position: number | string;
  /** The event type, e.g. MessageDelivered. */
  event_type: string;
  /** When it happened (the event's `at`), unix seconds, UTC. */
  event_time: number;
  server_id: string;
  message_id: string;
  recipient_domain: string;
  /** The recipient's mailbox provider: the registrable domain of the MX that took the message (e.g. google.com, outlook.com), '' before a delivery. */
  mailbox_provider: string;
  sending_domain: string;
  tag: string;
  /** Our sending IP: the local address of the delivery attempt; events after the delivery inherit it (breakdown by IP), '' before. */
  ip: string;
  /** Bounce classification (domain BounceClassification) for MessageBounced, '' otherwise. */
  bounce_classification: string;
  /** The clicked link for MessageLinkClicked, '' otherwise. */
  url: string;
  /** 1 when a machine (scanner, proxy prefetch) made the open or click. */
  machine: 0 | 1;
  /** SMTP reply code of the delivery attempt, 0 when none. */
  smtp_code: number;
  /** RFC 3463 enhanced status code of the attempt or bounce, '' when none. */
  enhanced_code: string;
  /** Delivery attempt number, 0 when not a delivery attempt. */
  attempt: number;
  /** Seconds from MessageAccepted to this event (time to deliver, to open…), 0 for the acceptance itself. */
  seconds_since_accepted: number;
}

/**
 * The events table's columns as the RowBinary encoder writes them, in table order. The migration's
 * DDL is the schema; the integration test checks this list against DESCRIBE TABLE.
 */
export const eventColumns = [
  { name: 'event_id', type: 'UUID' },
  { name: 'position', type: 'UInt64' },
  { name: 'event_type', type: 'String' },
  { name: 'event_time', type: 'DateTime' },
  { name: 'server_id', type: 'String' },
  { name: 'message_id', type: 'String' },
  { name: 'recipient_domain', type: 'String' },
  { name: 'mailbox_provider', type: 'String' },
  { name: 'sending_domain', type: 'String' },
  { name: 'tag', type: 'String' },
  { name: 'ip', type: 'String' },
  { name: 'bounce_classification', type: 'String' },
  { name: 'url', type: 'String' },
  { name: 'machine', type: 'UInt8' },
  { name: 'smtp_code', type: 'UInt16' },
  { name: 'enhanced_code', type: 'String' },
  { name: 'attempt', type: 'UInt16' },
  { name: 'seconds_since_accepted', type: 'UInt32' },
] as const satisfies readonly (RowBinaryColumn & { name: keyof EventRow })[];

/** Column names of the events table, in order. */
export const eventRowColumns = eventColumns.map((c) => c.name);

/** Event ids per existence lookup: 36-character literals, well under 18.16's 256 KiB max_query_size. */
const LOOKUP_CHUNK = 2000;

export interface InsertEventsResult {
  inserted: number;
  /** Rows left out because their event id was already in the table (mayExist only). */
  skipped: number;
}

/**
 * Inserts event rows into the events table in one INSERT (RowBinary). With mayExist, first looks up which of
 * their event ids the table already has (by server, time range and id, so the primary key and
 * partitions narrow the read) and leaves those rows out: use it for every batch that may have been
 * delivered before (after a start, after a failed or timed-out insert).
 */
export async function insertEvents(
  ch: ClickHouse,
  rows: readonly EventRow[],
  options: { mayExist?: boolean } = {},
): Promise<InsertEventsResult> {
  let toInsert = rows;
  if (options.mayExist && rows.length > 0) {
    const present = new Set<string>();
    for (let i = 0; i < rows.length; i += LOOKUP_CHUNK) {
      const chunk = rows.slice(i, i + LOOKUP_CHUNK);
      const servers = [...new Set(chunk.map((r) => r.server_id))];
      let from = Infinity;
      let to = -Infinity;
      for (const r of chunk) {
        from = Math.min(from, r.event_time);
        to = Math.max(to, r.event_time);
      }
      const found = await ch.query<{ id: string }>(
        sql`SELECT toString(event_id) AS id FROM ${ch.table(EVENTS_TABLE)}
            WHERE server_id IN (${join(servers)})
              AND event_time >= toDateTime(${from}) AND event_time <= toDateTime(${to})
              AND event_id IN (${join(chunk.map((r) => r.event_id.toLowerCase()))})`,
      );
      for (const { id } of found) present.add(id);
    }
    if (present.size > 0) toInsert = rows.filter((r) => !present.has(r.event_id.toLowerCase()));
  }
  await ch.insertBinary(EVENTS_TABLE, eventColumns, toInsert);
  return { inserted: toInsert.length, skipped: rows.length - toInsert.length };
}
