import { identifier, join, raw, sql, type ClickHouse, type SqlFragment } from '../../infra/clickhouse/index.js';
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
  type Scope,
  type TimeSeriesPoint,
  type TimeSeriesQuery,
  type TopLink,
  type TopLinksQuery,
} from './reports-port.js';

/** The analytics events table (infra/clickhouse/migrations-list.ts). */
export const CLICKHOUSE_EVENTS_TABLE = 'events';

/**
 * Counting in ClickHouse. Copies of an event (at-least-once delivery) are kept out on insert (a
 * restarted sink leaves out the event ids the table already has) and merged away by the
 * ReplacingMergeTree (keyed by event id) for the rare copy that still gets in; see
 * infra/clickhouse/events-table.ts. So events are count()ed — the fast form; a copy waiting for its
 * merge can only inflate an event total, never a distinct-message count. Event types a message has at
 * most once (accepted, delivered, bounced, failed) count messages with count(); deferrals, opens and
 * clicks repeat, so their messages are uniqExact(message_id).
 */
const AGGREGATES: SqlFragment = (() => {
  const once = (type: string) => `countIf(event_type = '${type}')`;
  const messages = (type: string, extra = '') => `uniqExactIf(message_id, event_type = '${type}'${extra})`;
  const events = (type: string, extra = '') => `countIf(event_type = '${type}'${extra})`;
  const exprs: Record<(typeof AGGREGATE_COLUMNS)[number], string> = {
    accepted: once('MessageAccepted'),
    delivered: once('MessageDelivered'),
    bounced: once('MessageBounced'),
    deferred: messages('MessageDeferred'),
    failed: once('MessageFailed'),
    opened_total: events('MessageOpened'),
    opened_unique: messages('MessageOpened'),
    opened_human_total: events('MessageOpened', ' AND machine = 0'),
    opened_human_unique: messages('MessageOpened', ' AND machine = 0'),
    opened_machine_total: events('MessageOpened', ' AND machine = 1'),
    opened_machine_unique: messages('MessageOpened', ' AND machine = 1'),
    clicked_total: events('MessageLinkClicked'),
    clicked_unique: messages('MessageLinkClicked'),
    clicked_human_total: events('MessageLinkClicked', ' AND machine = 0'),
    clicked_human_unique: messages('MessageLinkClicked', ' AND machine = 0'),
    clicked_machine_total: events('MessageLinkClicked', ' AND machine = 1'),
    clicked_machine_unique: messages('MessageLinkClicked', ' AND machine = 1'),
  };
  return raw(AGGREGATE_COLUMNS.map((c) => `${exprs[c]} AS ${c}`).join(',\n  '));
})();

/**
 * Distinct-message counts over a large range build big hash sets, and big sets are slow (cache
 * misses). Grouping by a hash of the message id first splits every set into disjoint parts (a
 * message falls into exactly one), so the parts' counts add up to the exact total: about half the
 * CPU of one set for a 30-day funnel over millions of rows on 18.16 (the funnel; a time series'
 * buckets split its sets already).
 */
const part = (n: number) => raw(`cityHash64(message_id) % ${n} AS part`);
const SUMS = raw(AGGREGATE_COLUMNS.map((c) => `sum(${c}) AS ${c}`).join(', '));

/** The funnel reads only its event types: the sorting key's second column, so other types' granules are skipped. */
const FUNNEL_TYPES = raw(
  `event_type IN ('MessageAccepted', 'MessageDelivered', 'MessageBounced', 'MessageDeferred', 'MessageFailed', 'MessageOpened', 'MessageLinkClicked')`,
);

const ENGAGEMENT = raw(`count() AS total, uniqExact(message_id) AS messages,
  countIf(machine = 0) AS human_total, uniqExactIf(message_id, machine = 0) AS human_messages,
  countIf(machine = 1) AS machine_total, uniqExactIf(message_id, machine = 1) AS machine_messages`);
type EngagementRow = {
  total: number;
  messages: number;
  human_total: number;
  human_messages: number;
  machine_total: number;
  machine_messages: number;
};
const engagementOf = (r: EngagementRow | undefined): EngagementCounts => ({
  total: Number(r?.total ?? 0),
  unique: Number(r?.messages ?? 0),
  human: { total: Number(r?.human_total ?? 0), unique: Number(r?.human_messages ?? 0) },
  machine: { total: Number(r?.machine_total ?? 0), unique: Number(r?.machine_messages ?? 0) },
});

/** The scope as a condition on the sorting key's first column (IN uses the primary index). */
function scopeCondition(scope: Scope): SqlFragment {
  if (scope.serverIds === null) return raw('1');
  if (scope.serverIds.length === 0) return raw('0');
  return sql`server_id IN (${join(scope.serverIds)})`;
}

/** Event times are whole seconds in ClickHouse: [from, to) compares at second precision. */
function where(q: ReportQuery, extra: SqlFragment[] = []): SqlFragment {
  const clauses: SqlFragment[] = [
    scopeCondition(q.scope),
    sql`event_time >= ${new Date(q.range.from)}`,
    sql`event_time < ${new Date(Math.ceil(Date.parse(q.range.to) / 1000) * 1000)}`,
  ];
  for (const [key, value] of Object.entries(q.filter) as [keyof ReportFilter, string | undefined][]) {
    if (value !== undefined) clauses.push(sql`${identifier(FILTER_COLUMN[key])} = ${value}`);
  }
  return sql`WHERE ${join([...clauses, ...extra], ' AND ')}`;
}

/** The bucket's first instant on the zone's wall clock (weeks from Monday), as a DateTime. */
function bucketStart(bucket: TimeSeriesQuery['bucket'], timeZone: string): SqlFragment {
  switch (bucket) {
    case 'minute':
      return sql`toStartOfMinute(event_time, ${timeZone})`;
    case 'hour':
      return sql`toStartOfHour(event_time, ${timeZone})`;
    case 'day':
      return sql`toStartOfDay(event_time, ${timeZone})`;
    case 'week':
      return sql`toDateTime(toMonday(event_time, ${timeZone}), ${timeZone})`;
  }
}

const iso = (unixSeconds: number) => new Date(Number(unixSeconds) * 1000).toISOString();

/** The reports from ClickHouse's events table; every value reaches the SQL through infra/clickhouse/sql.ts. */
export class ClickHouseReports implements AnalyticsReports {
  readonly backend = 'clickhouse';

  constructor(
    private readonly ch: ClickHouse,
    private readonly tableName = CLICKHOUSE_EVENTS_TABLE,
  ) {}

  private get table(): SqlFragment {
    return this.ch.table(this.tableName);
  }

  /** The statements each report runs (exported for the dialect check against a current ClickHouse). */
  statements = {
    funnel: (q: ReportQuery) =>
      sql`SELECT ${SUMS} FROM (SELECT ${part(32)}, ${AGGREGATES} FROM ${this.table} ${where(q, [FUNNEL_TYPES])} GROUP BY part)`,
    timeSeries: (q: TimeSeriesQuery) =>
      // buckets already split the sets (a day's messages); parts on top measured slower
      sql`SELECT toUnixTimestamp(${bucketStart(q.bucket, q.timeZone)}) AS start, ${AGGREGATES} FROM ${this.table} ${where(q, [FUNNEL_TYPES])} GROUP BY start ORDER BY start`,
    breakdown: (q: BreakdownQuery) => {
      const column = identifier(DIMENSION_COLUMN[q.dimension]);
      const order = raw(q.orderBy === 'opened' || q.orderBy === 'clicked' ? `${q.orderBy}_unique` : q.orderBy);
      const extra = q.dimension === 'bounceClassification' ? [raw(`event_type = 'MessageBounced'`)] : [FUNNEL_TYPES];
      return sql`SELECT ${column} AS key, ${AGGREGATES} FROM ${this.table} ${where(q, extra)} GROUP BY key ORDER BY ${order} DESC, key ASC LIMIT ${q.limit}`;
    },
    topLinks: (q: TopLinksQuery) =>
      sql`SELECT url, ${ENGAGEMENT} FROM ${this.table} ${where(q, [raw(`event_type = 'MessageLinkClicked'`)])} GROUP BY url ORDER BY total DESC, url ASC LIMIT ${q.limit}`,
    messageEvents: (q: MessageEngagementQuery) =>
      sql`SELECT server_id, event_type, toUnixTimestamp(min(event_time)) AS first_at, toUnixTimestamp(max(event_time)) AS last_at, ${ENGAGEMENT}
          FROM ${this.table} WHERE ${scopeCondition(q.scope)} AND message_id = ${q.messageId} GROUP BY server_id, event_type`,
    messageLinks: (q: MessageEngagementQuery) =>
      sql`SELECT url, ${ENGAGEMENT} FROM ${this.table}
          WHERE ${scopeCondition(q.scope)} AND message_id = ${q.messageId} AND event_type = 'MessageLinkClicked' GROUP BY url ORDER BY total DESC, url ASC`,
  };

  async funnel(q: ReportQuery): Promise<FunnelCounts> {
    const [row] = await this.ch.query<AggregateRow>(this.statements.funnel(q));
    return funnelOfAggregate(row!);
  }

  async timeSeries(q: TimeSeriesQuery): Promise<TimeSeriesPoint[]> {
    const rows = await this.ch.query<AggregateRow & { start: number }>(this.statements.timeSeries(q));
    return rows.map((r) => {
      const start = iso(r.start);
      return { start, local: localTime(start, q.timeZone), counts: funnelOfAggregate(r) };
    });
  }

  async breakdown(q: BreakdownQuery): Promise<BreakdownRow[]> {
    const rows = await this.ch.query<AggregateRow & { key: string }>(this.statements.breakdown(q));
    return rows.map((r) => ({ key: r.key === '' ? null : r.key, counts: funnelOfAggregate(r) }));
  }

  async topLinks(q: TopLinksQuery): Promise<TopLink[]> {
    const rows = await this.ch.query<EngagementRow & { url: string }>(this.statements.topLinks(q));
    return rows.map((r) => ({ url: r.url, clicks: engagementOf(r) }));
  }

  async messageEngagement(q: MessageEngagementQuery): Promise<MessageEngagement | null> {
    const rows = await this.ch.query<
      EngagementRow & { server_id: string; event_type: string; first_at: number; last_at: number }
    >(this.statements.messageEvents(q));
    if (rows.length === 0) return null;
    const of = (type: string) => rows.find((r) => r.event_type === type);
    const opened = of('MessageOpened');
    const clicked = of('MessageLinkClicked');
    const links = clicked ? await this.ch.query<EngagementRow & { url: string }>(this.statements.messageLinks(q)) : [];
    return {
      messageId: q.messageId,
      serverId: rows[0]!.server_id,
      opened: engagementOf(opened),
      clicked: engagementOf(clicked),
      firstOpenedAt: opened ? iso(opened.first_at) : null,
      lastOpenedAt: opened ? iso(opened.last_at) : null,
      firstClickedAt: clicked ? iso(clicked.first_at) : null,
      lastClickedAt: clicked ? iso(clicked.last_at) : null,
      links: links.map((r) => ({ url: r.url, clicks: engagementOf(r) })),
    };
  }
}
