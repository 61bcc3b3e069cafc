import { EVENTS_TABLE, insertEvents, type EventRow } from '../../infra/clickhouse/events-table.js';
import { migrateClickHouse } from '../../infra/clickhouse/migrations.js';
import type { ClickHouse } from '../../infra/clickhouse/index.js';
import type { EventStore, RecordedEvent } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { Metrics } from '../../infra/metrics/index.js';
import type { SinkProjection } from '../runner.js';
import { ANALYTICS_EVENT_TYPES, type AnalyticsRow } from './analytics-row.js';
import { DimensionLookup } from './dimension-lookup.js';

export interface ClickHouseAnalyticsOptions {
  clickhouse: ClickHouse;
  eventStore: EventStore;
  logger: Logger;
  metrics?: Metrics;
  /** Events per batch read from the log, so rows per insert (ClickHouse wants few, large inserts). */
  batchSize?: number;
  /**
   * At least this long between two inserts: while caught up, the log's new events wait for the next
   * insert instead of each making its own small part (ClickHouse merges parts; many tiny ones hurt).
   */
  minInsertIntervalMs?: number;
  /** Messages whose dimensions the lookup cache keeps. */
  cacheMessages?: number;
}

/** An analytics row as the ClickHouse events table takes it (JSONEachRow). */
export function clickhouseRow(r: AnalyticsRow): EventRow {
  return {
    event_id: r.event_id,
    position: r.position,
    event_type: r.event_type,
    event_time: Math.floor(Date.parse(r.event_time) / 1000),
    server_id: r.server_id,
    message_id: r.message_id,
    recipient_domain: r.recipient_domain,
    mailbox_provider: r.mailbox_provider,
    sending_domain: r.sending_domain,
    tag: r.tag,
    ip: r.ip,
    bounce_classification: r.bounce_classification,
    url: r.url,
    machine: r.machine ? 1 : 0,
    smtp_code: r.smtp_code,
    enhanced_code: r.enhanced_code,
    attempt: r.attempt,
    seconds_since_accepted: r.seconds_since_accepted,
  };
}

/**
 * Analytics into ClickHouse: a sink projection (at-least-once; the checkpoint moves after ClickHouse
 * acknowledged the insert). The first time it runs, its checkpoint is at the start of the log: that
 * is the backfill. Its ClickHouse schema is migrated before the first insert. A batch delivered
 * again (a crash between the insert and the checkpoint) is inserted without the events ClickHouse
 * already has; a copy that still gets in (an insert of a dying leader landing late) has the same
 * event id, which the table merges away and the reports never count twice
 * (read-api/analytics/clickhouse-reports.ts counts distinct event ids).
 */
export function clickhouseAnalyticsSink(o: ClickHouseAnalyticsOptions): SinkProjection {
  const log = o.logger.child({ component: 'clickhouse-analytics' });
  const lookup = new DimensionLookup(o.eventStore, {
    maxMessages: o.cacheMessages ?? 200_000,
    onLookups: (hits, misses) => {
      o.metrics?.analyticsDimensionLookups.inc({ result: 'hit' }, hits);
      o.metrics?.analyticsDimensionLookups.inc({ result: 'miss' }, misses);
    },
  });
  let migrated: Promise<void> | undefined;
  const ensureSchema = () => {
    migrated ??= migrateClickHouse(o.clickhouse, log).then(
      (report) => log.info({ report }, 'ClickHouse analytics schema ready'),
      (err: unknown) => {
        migrated = undefined; // try again with the next batch
        throw err;
      },
    );
    return migrated;
  };
  let lastInsert = 0;
  const minInterval = o.minInsertIntervalMs ?? 1000;
  // The first batch after each (re)subscription (resume: a start, a lost leadership, a checkpoint
  // commit that failed after the insert) and a batch retried after a failed insert may already be
  // in ClickHouse: those leave out the event ids the table has. Later batches of the same
  // subscription are new by construction and skip the lookup.
  let mayExist = true;

  return {
    name: 'clickhouse-analytics',
    version: 1,
    filter: { streamPrefixes: ['message-'], types: [...ANALYTICS_EVENT_TYPES] },
    batchSize: o.batchSize ?? 20_000,
    resume() {
      mayExist = true;
    },
    async deliver(events: RecordedEvent[]) {
      await ensureSchema();
      const rows = await lookup.flatten(events);
      const wait = lastInsert + minInterval - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const started = performance.now();
      let result: Awaited<ReturnType<typeof insertEvents>>;
      try {
        result = await insertEvents(o.clickhouse, rows.map(clickhouseRow), { mayExist });
      } catch (err) {
        mayExist = true; // a timed-out insert may still have landed
        throw err;
      }
      mayExist = false;
      lastInsert = Date.now();
      o.metrics?.analyticsInsertSeconds.observe((performance.now() - started) / 1000);
      const ms = Math.round(performance.now() - started);
      if (result.skipped > 0)
        log.info(
          { skipped: result.skipped, inserted: result.inserted },
          'left out events ClickHouse already had (a batch delivered again)',
        );
      else log.debug({ events: events.length, rows: result.inserted, ms }, 'inserted into ClickHouse');
    },
    async reset() {
      // a new version replays the whole log: start from empty tables
      await ensureSchema();
      await o.clickhouse.command(`TRUNCATE TABLE ${o.clickhouse.table(EVENTS_TABLE).text}`);
    },
    close: () => o.clickhouse.close(),
  };
}
