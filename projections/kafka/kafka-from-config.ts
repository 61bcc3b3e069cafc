import { readFileSync } from 'node:fs';
import type { Config } from '../../infra/config/index.js';
import { createKafkaClient, type KafkaClientOptions } from '../../infra/kafka/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { Metrics } from '../../infra/metrics/index.js';
import type { SinkProjection } from '../runner.js';
import { createKafkaPublisher, KAFKA_PUBLISHER } from './kafka-publisher.js';

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

/** The kafka-publisher projection as `postlog start` configures it. */
export function createKafkaPublisherFromConfig(config: Config, logger: Logger, metrics: Metrics): SinkProjection {
  return createKafkaPublisher({
    kafka: createKafkaClient({ ...kafkaConnection(config), logger: logger.child({ component: KAFKA_PUBLISHER }) }),
    logger,
    metrics,
    topic: config.kafkaTopic,
    perType: config.kafkaTopicPerType,
    partitions: config.kafkaPartitions,
    compression: config.kafkaCompression,
    batchSize: config.kafkaBatchSize,
  });
}
