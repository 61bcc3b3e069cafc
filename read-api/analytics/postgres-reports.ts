import type pg from 'pg';
import {
  breakdownAggregates,
  funnelAggregate,
  messageEngagementRows,
  timeSeriesAggregates,
  topLinkCounts,
  type EngagementRow,
  type EventSelection,
} from '../../infra/read-models/index.js';
import {
  DIMENSION_COLUMN,
  FILTER_COLUMN,
  funnelOfAggregate,
  localTime,
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

const engagementOf = (r: EngagementRow | undefined): EngagementCounts => ({
  total: r?.total ?? 0,
  unique: r?.unique ?? 0,
  human: { total: r?.human_total ?? 0, unique: r?.human_unique ?? 0 },
  machine: { total: r?.machine_total ?? 0, unique: r?.machine_unique ?? 0 },
});

/** The events a report counts, in the store's terms: its filters as column = value conditions. */
function selection(q: ReportQuery): EventSelection {
  return {
    serverIds: q.scope.serverIds,
    from: q.range.from,
    to: q.range.to,
    equal: (Object.entries(q.filter) as [keyof ReportFilter, string | undefined][]).flatMap(([key, value]) =>
      value === undefined ? [] : [{ column: FILTER_COLUMN[key], value }],
    ),
  };
}

/**
 * The reports from the embedded analytics tables (projections/analytics/postgres-analytics-projection.ts
 * writes them; the statements are infra/read-models/analytics-reports.ts).
 */
export class PostgresReports implements AnalyticsReports {
  readonly backend = 'postgres';

  constructor(private readonly pool: pg.Pool) {}

  async funnel(q: ReportQuery): Promise<FunnelCounts> {
    return funnelOfAggregate(await funnelAggregate(this.pool, selection(q)));
  }

  async timeSeries(q: TimeSeriesQuery): Promise<TimeSeriesPoint[]> {
    const rows = await timeSeriesAggregates(this.pool, selection(q), q.bucket, q.timeZone);
    return rows.map((r) => {
      const start = r.start.toISOString();
      return { start, local: localTime(start, q.timeZone), counts: funnelOfAggregate(r) };
    });
  }

  async breakdown(q: BreakdownQuery): Promise<BreakdownRow[]> {
    const rows = await breakdownAggregates(this.pool, selection(q), {
      column: DIMENSION_COLUMN[q.dimension],
      bouncedOnly: q.dimension === 'bounceClassification',
      orderBy: q.orderBy === 'opened' || q.orderBy === 'clicked' ? `${q.orderBy}_unique` : q.orderBy,
      limit: q.limit,
    });
    return rows.map((r) => ({ key: r.key === '' ? null : r.key, counts: funnelOfAggregate(r) }));
  }

  async topLinks(q: TopLinksQuery): Promise<TopLink[]> {
    const rows = await topLinkCounts(this.pool, selection(q), q.limit);
    return rows.map((r) => ({ url: r.url, clicks: engagementOf(r) }));
  }

  async messageEngagement(q: MessageEngagementQuery): Promise<MessageEngagement | null> {
    const rows = await messageEngagementRows(this.pool, q.messageId, q.scope.serverIds);
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
