import type { Config } from '../infra/config/index.js';
import { createClickHouse } from '../infra/clickhouse/index.js';
import type { EventStore } from '../infra/event-store/index.js';
import { PostgresEventStore } from '../infra/event-store/postgres/postgres-event-store.js';
import type { Logger } from '../infra/logging/index.js';
import type { Metrics } from '../infra/metrics/index.js';
import type { Database } from '../infra/postgres/index.js';
import { analyticsProjection } from '../projections/analytics/postgres-analytics-projection.js';
import { clickhouseAnalyticsSink } from '../projections/analytics/clickhouse-analytics-sink.js';
import { KAFKA_PUBLISHER } from '../projections/kafka/kafka-publisher.js';
import { createKafkaPublisherFromConfig } from '../projections/kafka/kafka-from-config.js';
import { outboxProjections, projectionNamed, projections } from '../projections/registry.js';
import type { EventFilter } from '../infra/event-store/index.js';
import type { PostgresProjection, SinkProjection } from '../projections/runner.js';
import { ClickHouseReports } from '../read-api/analytics/clickhouse-reports.js';
import { PostgresReports } from '../read-api/analytics/postgres-reports.js';
import type { AnalyticsReports } from '../read-api/analytics/reports-port.js';

/*
 * Which adapter of each port this configuration uses, decided here and nowhere else: the event
 * log (PostgreSQL or KurrentDB), where analytics live (PostgreSQL or ClickHouse), and which sink
 * projections run (Kafka, ClickHouse). The modules below only build what they are asked for.
 */

/**
 * Analytics live in ClickHouse when POSTLOG_CLICKHOUSE_URL is set (a sink projection fills it and the
 * reports read it; the embedded analytics tables are then not kept), otherwise in this PostgreSQL.
 */
export function analyticsStore(config: Pick<Config, 'clickhouseUrl'>): 'clickhouse' | 'postgres' {
  return config.clickhouseUrl !== undefined ? 'clickhouse' : 'postgres';
}

/**
 * The log the configuration names (POSTLOG_EVENT_STORE). With esdb, PostgreSQL still holds the
 * read models, the queue and the projection checkpoints; only the events live in KurrentDB.
 */
export async function eventStoreFor(
  config: Pick<Config, 'eventStore' | 'esdbUrl'>,
  database: Pick<Database, 'pool' | 'connectionString'>,
  logger: Logger,
  metrics?: Metrics,
): Promise<EventStore> {
  const log = logger.child({ component: 'event-store' });
  if (config.eventStore === 'esdb') {
    // loadConfig refuses esdb without a URL; this guards callers that build a Config by hand
    if (!config.esdbUrl) throw new Error('POSTLOG_EVENT_STORE is esdb but POSTLOG_ESDB_URL is not set');
    // loaded only when chosen: the gRPC client costs ~0.1 s and ~20 MB per process that never uses it
    const { EsdbEventStore } = await import('../infra/event-store/esdb/esdb-event-store.js');
    return new EsdbEventStore({
      url: config.esdbUrl,
      logger: log,
      ...(metrics
        ? {
            onAppend: (events: number, ms: number) => {
              metrics.appendBatchSeconds.observe(ms / 1000);
              metrics.appendsPerCommit.observe(1);
              metrics.appendedEvents.inc(events);
            },
            onResubscribe: () => metrics.esdbResubscriptions.inc(),
          }
        : {}),
    });
  }
  return new PostgresEventStore({
    pool: database.pool,
    connectionString: database.connectionString,
    logger: log,
    ...(metrics
      ? {
          onBatch: (appends: number, events: number, ms: number) => {
            metrics.appendBatchSeconds.observe(ms / 1000);
            metrics.appendsPerCommit.observe(appends);
            metrics.appendedEvents.inc(events);
          },
        }
      : {}),
  });
}

function clickhouseFor(config: Config, logger: Logger, requestTimeoutMs?: number) {
  return createClickHouse({
    url: config.clickhouseUrl!,
    database: config.clickhouseDatabase,
    user: config.clickhouseUser,
    password: config.clickhousePassword,
    logger,
    ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
  });
}

export interface AnalyticsBackend {
  reports: AnalyticsReports;
  close(): Promise<void>;
}

/** The report adapter GraphQL reads: ClickHouse, or the embedded tables the analytics projection fills. */
export function analyticsReportsFor(
  config: Config,
  deps: { pool: Database['pool']; logger: Logger },
): AnalyticsBackend {
  if (analyticsStore(config) === 'clickhouse') {
    // a report that takes longer than this is a report to fix, not to wait for
    const clickhouse = clickhouseFor(config, deps.logger, 30_000);
    return { reports: new ClickHouseReports(clickhouse), close: () => clickhouse.close() };
  }
  return { reports: new PostgresReports(deps.pool), close: async () => undefined };
}

/**
 * The PostgreSQL projections the projector runs: with ClickHouse, analytics go there instead. The
 * event store lets the webhook outbox read a message's stream where a batch ended mid-append.
 */
export function postgresProjectionsFor(config: Config, eventStore?: EventStore): PostgresProjection[] {
  const readModels =
    analyticsStore(config) === 'clickhouse' ? projections.filter((p) => p !== analyticsProjection) : projections;
  return [...readModels, ...outboxProjections(config, eventStore)];
}

export interface SinkDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** For sinks that read a message's earlier events (the ClickHouse analytics dimensions). */
  eventStore: EventStore;
}

interface SinkChoice {
  name: string;
  enabled(config: Config): boolean;
  create(deps: SinkDeps): SinkProjection;
}

const sinkChoices: SinkChoice[] = [
  {
    name: KAFKA_PUBLISHER,
    enabled: (config) => config.kafkaBrokers.length > 0,
    create: ({ config, logger, metrics }) => createKafkaPublisherFromConfig(config, logger, metrics),
  },
  {
    name: 'clickhouse-analytics',
    enabled: (config) => analyticsStore(config) === 'clickhouse',
    create: ({ config, logger, metrics, eventStore }) =>
      clickhouseAnalyticsSink({ clickhouse: clickhouseFor(config, logger), eventStore, logger, metrics }),
  },
];

/**
 * The projections into systems outside PostgreSQL that this configuration enables (each one only
 * when its setting is present). They run in the projector role beside the PostgreSQL read models.
 */
export function sinkProjectionsFor(deps: SinkDeps): SinkProjection[] {
  return sinkChoices.filter((s) => s.enabled(deps.config)).map((s) => s.create(deps));
}

/** The names of every projection this configuration runs, without connecting anywhere (`projections status`). */
export function projectionNamesFor(config: Config): string[] {
  return [
    ...postgresProjectionsFor(config).map((p) => p.name),
    ...sinkChoices.filter((s) => s.enabled(config)).map((s) => s.name),
  ];
}

/** What each projection takes from the log, by name, so its lag counts only those events. */
export function projectionFiltersFor(config: Config): Record<string, EventFilter | undefined> {
  const filters: Record<string, EventFilter | undefined> = Object.fromEntries(
    postgresProjectionsFor(config).map((p) => [p.name, p.filter]),
  );
  // the ClickHouse sink takes what the embedded analytics take
  filters['clickhouse-analytics'] = projectionNamed('analytics')?.filter;
  return filters;
}
