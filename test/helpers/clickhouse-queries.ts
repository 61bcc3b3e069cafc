import { EVENTS_TABLE } from '../../infra/clickhouse/events-table.js';
import { join, qualified, raw, sql, type SqlFragment } from '../../infra/clickhouse/sql.js';

/**
 * Plain per-type counts over the events table, with and without FINAL: the ClickHouse tests use them
 * to prove how copies of an event count before and after their merge. The reports themselves are
 * read-api/analytics/clickhouse-reports.ts (dialect-checked in analytics-clickhouse.test.ts).
 */
export interface EventQueryScope {
  database: string;
  serverIds: readonly string[];
  /** Inclusive start, exclusive end. */
  from: Date;
  to: Date;
  /** Leave out opens and clicks made by machines (scanners, proxies). */
  humanOnly?: boolean;
}

/** Event types whose distinct messages the funnel counts (a message is opened or clicked many times). */
const repeatable = ['MessageOpened', 'MessageLinkClicked'];

function where(scope: EventQueryScope, types: readonly string[]): SqlFragment {
  return sql`server_id IN (${join(scope.serverIds)})
    AND event_type IN (${join(types)})
    AND event_time >= ${scope.from} AND event_time < ${scope.to}${scope.humanOnly ? raw(' AND machine = 0') : raw('')}`;
}

/**
 * Funnel: per event type, the events and the distinct messages. Lifecycle events happen once per
 * message, so count() is their message count; opens and clicks repeat, so their messages are
 * uniqExact(message_id) — computed only for those rows, which keeps the query fast.
 * Rows: { event_type, events, messages }.
 */
export function funnelQuery(
  scope: EventQueryScope,
  types: readonly string[] = [
    'MessageAccepted',
    'MessageDelivered',
    'MessageBounced',
    'MessageOpened',
    'MessageLinkClicked',
  ],
): SqlFragment {
  return sql`SELECT event_type,
      count() AS events,
      if(event_type IN (${join(repeatable)}), uniqExactIf(message_id, event_type IN (${join(repeatable)})), count()) AS messages
    FROM ${qualified(scope.database, EVENTS_TABLE)}
    WHERE ${where(scope, types)}
    GROUP BY event_type
    ORDER BY event_type`;
}

/** Events per type per hour or day. Rows: { bucket (DateTime text, UTC), event_type, events }. */
export function timeSeriesQuery(
  scope: EventQueryScope,
  interval: 'hour' | 'day',
  types: readonly string[],
): SqlFragment {
  const bucket = interval === 'hour' ? raw('toStartOfHour(event_time)') : raw('toStartOfDay(event_time)');
  return sql`SELECT ${bucket} AS bucket, event_type, count() AS events
    FROM ${qualified(scope.database, EVENTS_TABLE)}
    WHERE ${where(scope, types)}
    GROUP BY bucket, event_type
    ORDER BY bucket, event_type`;
}

/**
 * The same counts as funnelQuery read with FINAL: exact even while copies of events wait for their
 * merge. Slow (seconds over millions of rows on 18.16): for verification, not dashboards.
 */
export function auditFunnelQuery(scope: EventQueryScope, types: readonly string[]): SqlFragment {
  return sql`SELECT event_type, count() AS events, uniqExact(message_id) AS messages
    FROM ${qualified(scope.database, EVENTS_TABLE)} FINAL
    WHERE ${where(scope, types)}
    GROUP BY event_type
    ORDER BY event_type`;
}
