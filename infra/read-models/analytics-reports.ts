import type pg from 'pg';

/**
 * The statements of the analytics reports on the embedded store (read-api/analytics/postgres-reports.ts
 * turns the report queries into these calls and the rows into the port's answers). Every report is
 * a scan of the events table, scoped by server and time range.
 */

/** The aggregate of every report: distinct messages per type, events and messages for opens and clicks. */
const AGGREGATE_EXPRESSIONS = (() => {
  const messages = (type: string, extra = '') =>
    `count(DISTINCT message_id) FILTER (WHERE event_type = '${type}'${extra})`;
  const events = (type: string, extra = '') => `count(*) FILTER (WHERE event_type = '${type}'${extra})`;
  return {
    accepted: messages('MessageAccepted'),
    delivered: messages('MessageDelivered'),
    bounced: messages('MessageBounced'),
    deferred: messages('MessageDeferred'),
    failed: messages('MessageFailed'),
    opened_total: events('MessageOpened'),
    opened_unique: messages('MessageOpened'),
    opened_human_total: events('MessageOpened', ' AND NOT machine'),
    opened_human_unique: messages('MessageOpened', ' AND NOT machine'),
    opened_machine_total: events('MessageOpened', ' AND machine'),
    opened_machine_unique: messages('MessageOpened', ' AND machine'),
    clicked_total: events('MessageLinkClicked'),
    clicked_unique: messages('MessageLinkClicked'),
    clicked_human_total: events('MessageLinkClicked', ' AND NOT machine'),
    clicked_human_unique: messages('MessageLinkClicked', ' AND NOT machine'),
    clicked_machine_total: events('MessageLinkClicked', ' AND machine'),
    clicked_machine_unique: messages('MessageLinkClicked', ' AND machine'),
  };
})();
/**
 * The aggregate columns, named as the report port names them (read-api/analytics/reports-port.ts,
 * AGGREGATE_COLUMNS): its funnelOfAggregate reads these rows, so a column it names and this lacks
 * does not compile.
 */
export type AggregateColumn = keyof typeof AGGREGATE_EXPRESSIONS;
export type AnalyticsAggregateRow = Record<AggregateColumn, number>;
const AGGREGATES = Object.entries(AGGREGATE_EXPRESSIONS)
  .map(([c, expr]) => `${expr}::int AS ${c}`)
  .join(',\n  ');

/** Engagement aggregates of one event type (opened or clicked rows only). */
const ENGAGEMENT = `count(*)::int AS total, count(DISTINCT message_id)::int AS "unique",
  count(*) FILTER (WHERE NOT machine)::int AS human_total, count(DISTINCT message_id) FILTER (WHERE NOT machine)::int AS human_unique,
  count(*) FILTER (WHERE machine)::int AS machine_total, count(DISTINCT message_id) FILTER (WHERE machine)::int AS machine_unique`;
export type EngagementRow = {
  total: number;
  unique: number;
  human_total: number;
  human_unique: number;
  machine_total: number;
  machine_unique: number;
};

/** The events a report counts. */
export interface EventSelection {
  /** The servers (null: every server). */
  serverIds: string[] | null;
  /** [from, to): when the events happened. */
  from: string;
  to: string;
  /** Only events whose column has this value, each (exact matches). */
  equal: { column: string; value: string }[];
}

/** Collects the WHERE clause's parameters in order. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function where(s: EventSelection, p: Params, extra: string[] = []): string {
  const clauses = [`event_time >= ${p.add(s.from)}::timestamptz`, `event_time < ${p.add(s.to)}::timestamptz`];
  if (s.serverIds !== null) clauses.unshift(`server_id = ANY(${p.add(s.serverIds.filter(isUuid))}::uuid[])`);
  for (const { column, value } of s.equal) clauses.push(`${column} = ${p.add(value)}`);
  return `WHERE ${[...clauses, ...extra].join(' AND ')}`;
}

// scope ids are server ids (uuids); anything else cannot match a row and must not break the cast
const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

export type ReportBucket = 'minute' | 'hour' | 'day' | 'week';

/**
 * The bucket's first instant. Minutes and hours are cut on the zone's wall clock but kept as
 * instants (the two 01:00 hours of a DST fall-back night stay two buckets, as in ClickHouse); days
 * and weeks (from Monday) are the zone's local midnight.
 */
function bucketStart(bucket: ReportBucket, tz: string): string {
  const local = `(event_time AT TIME ZONE ${tz})`;
  if (bucket === 'minute' || bucket === 'hour') return `event_time - (${local} - date_trunc('${bucket}', ${local}))`;
  return `date_trunc('${bucket}', ${local}) AT TIME ZONE ${tz}`;
}

/** The aggregate of the selected events. */
export async function funnelAggregate(pool: pg.Pool, s: EventSelection): Promise<AnalyticsAggregateRow> {
  const p = new Params();
  const { rows } = await pool.query<AnalyticsAggregateRow>(
    `SELECT ${AGGREGATES} FROM analytics_events ${where(s, p)}`,
    p.values,
  );
  return rows[0]!;
}

/** The aggregate per bucket of the zone's wall clock, buckets with events only, oldest first. */
export async function timeSeriesAggregates(
  pool: pg.Pool,
  s: EventSelection,
  bucket: ReportBucket,
  timeZone: string,
): Promise<(AnalyticsAggregateRow & { start: Date })[]> {
  const p = new Params();
  const tz = `${p.add(timeZone)}::text`;
  const filter = where(s, p);
  const { rows } = await pool.query<AnalyticsAggregateRow & { start: Date }>(
    `SELECT ${bucketStart(bucket, tz)} AS start, ${AGGREGATES} FROM analytics_events ${filter} GROUP BY 1 ORDER BY 1`,
    p.values,
  );
  return rows;
}

/** What a breakdown groups by and keeps. */
export interface Breakdown {
  /** The column whose values are the groups. */
  column: string;
  /** Bounced events only (a breakdown by bounce classification). */
  bouncedOnly: boolean;
  /** The aggregate the `limit` largest groups are chosen by (ties by value). */
  orderBy: AggregateColumn;
  limit: number;
}

/** The aggregate per value of a column ('' for events without one), the largest groups first. */
export async function breakdownAggregates(
  pool: pg.Pool,
  s: EventSelection,
  b: Breakdown,
): Promise<(AnalyticsAggregateRow & { key: string })[]> {
  const p = new Params();
  const column = b.column;
  const filter = where(s, p, b.bouncedOnly ? [`event_type = 'MessageBounced'`] : []);
  const order = b.orderBy;
  const { rows } = await pool.query<AnalyticsAggregateRow & { key: string }>(
    `SELECT ${column} AS key, ${AGGREGATES} FROM analytics_events ${filter}
        GROUP BY ${column} ORDER BY ${order} DESC, ${column} COLLATE "C" LIMIT ${p.add(b.limit)}`,
    p.values,
  );
  return rows;
}

/** The `limit` most clicked links (by clicks, then URL) and their clicks. */
export async function topLinkCounts(
  pool: pg.Pool,
  s: EventSelection,
  limit: number,
): Promise<(EngagementRow & { url: string })[]> {
  const p = new Params();
  const filter = where(s, p, [`event_type = 'MessageLinkClicked'`]);
  const { rows } = await pool.query<EngagementRow & { url: string }>(
    `SELECT url, ${ENGAGEMENT} FROM analytics_events ${filter} GROUP BY url ORDER BY total DESC, url COLLATE "C" LIMIT ${p.add(limit)}`,
    p.values,
  );
  return rows;
}

/** One of a message's engagement rows: per event type (url null), or per clicked link (event_type 'link'). */
export type MessageEngagementRow = EngagementRow & {
  server_id: string;
  event_type: string;
  first_at: Date | null;
  last_at: Date | null;
  url: string | null;
};

/** A message's whole engagement history (not limited to a range), if it is one of these servers' (null: any). */
export async function messageEngagementRows(
  pool: pg.Pool,
  messageId: string,
  serverIds: string[] | null,
): Promise<MessageEngagementRow[]> {
  const p = new Params();
  const scope = serverIds === null ? '' : ` AND server_id = ANY(${p.add(serverIds.filter(isUuid))}::uuid[])`;
  const message = `message_id = ${p.add(messageId)}::bigint${scope}`;
  const { rows } = await pool.query<MessageEngagementRow>(
    `SELECT server_id::text, event_type, NULL AS url, min(event_time) AS first_at, max(event_time) AS last_at, ${ENGAGEMENT}
         FROM analytics_events WHERE ${message} GROUP BY server_id, event_type
       UNION ALL
       SELECT server_id::text, 'link', url, NULL, NULL, ${ENGAGEMENT}
         FROM analytics_events WHERE ${message} AND event_type = 'MessageLinkClicked' GROUP BY server_id, url`,
    p.values,
  );
  return rows;
}
