import { createClickHouse } from '../infra/clickhouse/index.js';
import { analyticsStore, type Config } from '../infra/config/index.js';
import { readFileSync } from 'node:fs';
import type { EventStore } from '../infra/event-store/index.js';
import { createKafkaClient, type KafkaClientOptions } from '../infra/kafka/index.js';
import type { Logger } from '../infra/logging/index.js';
import type { Metrics } from '../infra/metrics/index.js';
import { clickhouseAnalyticsSink } from './analytics/clickhouse-analytics-sink.js';
import { createKafkaPublisher, KAFKA_PUBLISHER } from './kafka/kafka-publisher.js';
import type { SinkProjection } from './runner.js';

export interface SinkDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** For sinks that read a message's earlier events (the ClickHouse analytics dimensions). */
  eventStore: EventStore;
}

interface SinkDefinition {
  name: string;
  enabled(config: Config): boolean;
  create(deps: SinkDeps): SinkProjection;
}

/** Brokers, TLS and SASL from the configuration (loadConfig checked that SASL settings come complete). */
export function kafkaConnection(config: Config): Omit<KafkaClientOptions, 'logger'> {
  const { kafkaSaslMechanism: mechanism, kafkaSaslUsername: username, kafkaSaslPassword: password } = config;
  let ssl: KafkaClientOptions['ssl'] = config.kafkaSsl;
  if (config.kafkaSslCaFile) {
    try {
      ssl = { ca: [readFileSync(config.kafkaSslCaFile, 'utf8')] };
    } catch (err) {
      throw new Error(`POSTLOG_KAFKA_SSL_CA_FILE: cannot read ${config.kafkaSslCaFile}: ${(err as Error).message}`);
    }
  }
  return {
    brokers: config.kafkaBrokers,
    clientId: config.kafkaClientId,
    ssl,
    ...(mechanism && username && password ? { sasl: { mechanism, username, password } } : {}),
  };
}

const sinks: SinkDefinition[] = [
  {
    name: KAFKA_PUBLISHER,
    enabled: (config) => config.kafkaBrokers.length > 0,
    create: ({ config, logger, metrics }) =>
      createKafkaPublisher({
        kafka: createKafkaClient({ ...kafkaConnection(config), logger: logger.child({ component: KAFKA_PUBLISHER }) }),
        logger,
        metrics,
        topic: config.kafkaTopic,
        perType: config.kafkaTopicPerType,
        partitions: config.kafkaPartitions,
        compression: config.kafkaCompression,
        batchSize: config.kafkaBatchSize,
      }),
  },
  {
    name: 'clickhouse-analytics',
    enabled: (config) => analyticsStore(config) === 'clickhouse',
    create: ({ config, logger, metrics, eventStore }) =>
      clickhouseAnalyticsSink({
        clickhouse: createClickHouse({
          url: config.clickhouseUrl!,
          database: config.clickhouseDatabase,
          user: config.clickhouseUser,
          password: config.clickhousePassword,
          logger,
        }),
        eventStore,
        logger,
        metrics,
      }),
  },
];

/**
 * The projections into systems outside PostgreSQL that this configuration enables (each one only
 * when its setting is present). They run in the projector role beside the Postgres read models.
 */
export function sinkProjections(deps: SinkDeps): SinkProjection[] {
  return sinks.filter((s) => s.enabled(deps.config)).map((s) => s.create(deps));
}

/** Their names, without connecting anywhere (for `postlog projections status`). */
export function sinkProjectionNames(config: Config): string[] {
  return sinks.filter((s) => s.enabled(config)).map((s) => s.name);
}
