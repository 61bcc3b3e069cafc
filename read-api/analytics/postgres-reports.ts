import type pg from 'pg';
import {
  AGGREGATE_COLUMNS,
  DIMENSION_COLUMN,
  FILTER_COLUMN,
  funnelOfAggregate,
  localTime,
  type AggregateRow,
  type AnalyticsReports,
  type BreakdownQuery,
  type BreakdownRow,
  type EngagementCounts,
  type FunnelCounts,
  type MessageEngagement,
  type MessageEngagementQuery,
  type ReportFilter,
  type ReportQuery,
  type TimeSeriesPoint,
  type TimeSeriesQuery,
  type TopLink,
  type TopLinksQuery,
} from './reports-port.js';

/** The aggregate of every report, in Postgres SQL: distinct messages per type, events and messages for hits. */
const AGGREGATES = (() => {
  const messages = (type: string, extra = '') =>
    `count(DISTINCT message_id) FILTER (WHERE event_type = '${type}'${extra})`;
  const events = (type: string, extra = '') => `count(*) FILTER (WHERE event_type = '${type}'${extra})`;
  const exprs: Record<(typeof AGGREGATE_COLUMNS)[number], string> = {
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
  return AGGREGATE_COLUMNS.map((c) => `${exprs[c]}::int AS ${c}`).join(',\n  ');
})();

/** Engagement aggregates of one event type (opened or clicked rows only). */
const ENGAGEMENT = `count(*)::int AS total, count(DISTINCT message_id)::int AS "unique",
  count(*) FILTER (WHERE NOT machine)::int AS human_total, count(DISTINCT message_id) FILTER (WHERE NOT machine)::int AS human_unique,
  count(*) FILTER (WHERE machine)::int AS machine_total, count(DISTINCT message_id) FILTER (WHERE machine)::int AS machine_unique`;
type EngagementRow = {
  total: number;
  unique: number;
  human_total: number;
  human_unique: number;
  machine_total: number;
  machine_unique: number;
};
const engagementOf = (r: EngagementRow | undefined): EngagementCounts => ({
  total: r?.total ?? 0,
  unique: r?.unique ?? 0,
  human: { total: r?.human_total ?? 0, unique: r?.human_unique ?? 0 },
  machine: { total: r?.machine_total ?? 0, unique: r?.machine_unique ?? 0 },
});

/** Collects the WHERE clause's parameters in order. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function where(q: ReportQuery, p: Params, extra: string[] = []): string {
  const clauses = [
    `event_time >= ${p.add(q.range.from)}::timestamptz`,
    `event_time < ${p.add(q.range.to)}::timestamptz`,
  ];
  if (q.scope.serverIds !== null)
    clauses.unshift(`server_id = ANY(${p.add(q.scope.serverIds.filter(isUuid))}::uuid[])`);
  for (const [key, value] of Object.entries(q.filter) as [keyof ReportFilter, string | undefined][]) {
    if (value !== undefined) clauses.push(`${FILTER_COLUMN[key]} = ${p.add(value)}`);
  }
  return `WHERE ${[...clauses, ...extra].join(' AND ')}`;
}

// scope ids are server ids (uuids); anything else cannot match a row and must not break the cast
const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/**
 * The bucket's first instant. Minutes and hours are cut on the zone's wall clock but kept as
 * instants (the two 01:00 hours of a DST fall-back night stay two buckets, as in ClickHouse); days
 * and weeks (from Monday) are the zone's local midnight.
 */
function bucketStart(bucket: TimeSeriesQuery['bucket'], tz: string): string {
  const local = `(event_time AT TIME ZONE ${tz})`;
  if (bucket === 'minute' || bucket === 'hour') return `event_time - (${local} - date_trunc('${bucket}', ${local}))`;
  return `date_trunc('${bucket}', ${local}) AT TIME ZONE ${tz}`;
}

/** The reports from the embedded analytics tables (projections/analytics/postgres-analytics-projection.ts). */
export class PostgresReports implements AnalyticsReports {
  readonly backend = 'postgres';

  constructor(private readonly pool: pg.Pool) {}

  async funnel(q: ReportQuery): Promise<FunnelCounts> {
    const p = new Params();
    const { rows } = await this.pool.query<AggregateRow>(
      `SELECT ${AGGREGATES} FROM analytics_events ${where(q, p)}`,
      p.values,
    );
    return funnelOfAggregate(rows[0]!);
  }

  async timeSeries(q: TimeSeriesQuery): Promise<TimeSeriesPoint[]> {
    const p = new Params();
    const tz = `${p.add(q.timeZone)}::text`;
    const filter = where(q, p);
    const { rows } = await this.pool.query<AggregateRow & { start: Date }>(
      `SELECT ${bucketStart(q.bucket, tz)} AS start, ${AGGREGATES} FROM analytics_events ${filter} GROUP BY 1 ORDER BY 1`,
      p.values,
    );
    return rows.map((r) => {
      const start = r.start.toISOString();
      return { start, local: localTime(start, q.timeZone), counts: funnelOfAggregate(r) };
    });
  }

  async breakdown(q: BreakdownQuery): Promise<BreakdownRow[]> {
    const p = new Params();
    const column = DIMENSION_COLUMN[q.dimension];
    const filter = where(q, p, q.dimension === 'bounceClassification' ? [`event_type = 'MessageBounced'`] : []);
    const order = q.orderBy === 'opened' || q.orderBy === 'clicked' ? `${q.orderBy}_unique` : q.orderBy;
    const { rows } = await this.pool.query<AggregateRow & { key: string }>(
      `SELECT ${column} AS key, ${AGGREGATES} FROM analytics_events ${filter}
        GROUP BY ${column} ORDER BY ${order} DESC, ${column} COLLATE "C" LIMIT ${p.add(q.limit)}`,
      p.values,
    );
    return rows.map((r) => ({ key: r.key === '' ? null : r.key, counts: funnelOfAggregate(r) }));
  }

  async topLinks(q: TopLinksQuery): Promise<TopLink[]> {
    const p = new Params();
    const filter = where(q, p, [`event_type = 'MessageLinkClicked'`]);
    const { rows } = await this.pool.query<EngagementRow & { url: string }>(
      `SELECT url, ${ENGAGEMENT} FROM analytics_events ${filter} GROUP BY url ORDER BY total DESC, url COLLATE "C" LIMIT ${p.add(q.limit)}`,
      p.values,
    );
    return rows.map((r) => ({ url: r.url, clicks: engagementOf(r) }));
  }

  async messageEngagement(q: MessageEngagementQuery): Promise<MessageEngagement | null> {
    const p = new Params();
    const scope =
      q.scope.serverIds === null ? '' : ` AND server_id = ANY(${p.add(q.scope.serverIds.filter(isUuid))}::uuid[])`;
    const message = `message_id = ${p.add(q.messageId)}::bigint${scope}`;
    const { rows } = await this.pool.query<
      EngagementRow & {
        server_id: string;
        event_type: string;
        first_at: Date | null;
        last_at: Date | null;
        url: string | null;
      }
    >(
      `SELECT server_id::text, event_type, NULL AS url, min(event_time) AS first_at, max(event_time) AS last_at, ${ENGAGEMENT}
         FROM analytics_events WHERE ${message} GROUP BY server_id, event_type
       UNION ALL
       SELECT server_id::text, 'link', url, NULL, NULL, ${ENGAGEMENT}
         FROM analytics_events WHERE ${message} AND event_type = 'MessageLinkClicked' GROUP BY server_id, url`,
      p.values,
    );
    if (rows.length === 0) return null;
    const of = (type: string) => rows.find((r) => r.event_type === type);
    const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
    return {
      messageId: q.messageId,
      serverId: rows[0]!.server_id,
      opened: engagementOf(of('MessageOpened')),
      clicked: engagementOf(of('MessageLinkClicked')),
      firstOpenedAt: iso(of('MessageOpened')?.first_at),
      lastOpenedAt: iso(of('MessageOpened')?.last_at),
      firstClickedAt: iso(of('MessageLinkClicked')?.first_at),
      lastClickedAt: iso(of('MessageLinkClicked')?.last_at),
      links: rows
        .filter((r) => r.event_type === 'link')
        .map((r) => ({ url: r.url!, clicks: engagementOf(r) }))
        .sort((a, b) => b.clicks.total - a.clicks.total || (a.url < b.url ? -1 : a.url > b.url ? 1 : 0)),
    };
  }
}
