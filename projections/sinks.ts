import { createClickHouse } from '../infra/clickhouse/index.js';
import type { Config } from '../infra/config/index.js';
import type { EventStore } from '../infra/event-store/index.js';
import type { Logger } from '../infra/logging/index.js';
import type { Metrics } from '../infra/metrics/index.js';
import { clickhouseAnalyticsSink } from './analytics/clickhouse-analytics-sink.js';
import type { SinkProjection } from './runner.js';

export interface SinkDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** For sinks that read a message's earlier events (the ClickHouse analytics dimensions). */
  eventStore: EventStore;
}

/**
 * The projections into systems outside PostgreSQL that this configuration enables (each one only
 * when its setting is present). They run in the projector role beside the Postgres read models.
 */
export function sinkProjections(deps: SinkDeps): SinkProjection[] {
  const sinks: SinkProjection[] = [];
  const { config } = deps;
  if (config.clickhouseUrl) {
    sinks.push(
      clickhouseAnalyticsSink({
        clickhouse: createClickHouse({ url: config.clickhouseUrl, database: config.clickhouseDatabase, user: config.clickhouseUser, password: config.clickhousePassword, logger: deps.logger }),
        eventStore: deps.eventStore,
        logger: deps.logger,
        metrics: deps.metrics,
      }),
    );
  }
  return sinks;
}
