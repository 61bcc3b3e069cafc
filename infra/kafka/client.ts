import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Logger } from '../logging/index.js';

export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** TLS to the brokers: true for the system's CAs, or Node TLS options (e.g. `ca`). */
  ssl?: boolean | ConnectionOptions;
  sasl?: SASLOptions;
}

/**
 * kafkajs logs through pino (never console): one child logger per kafkajs namespace. kafkajs
 * reports each failed attempt of a retried request at ERROR; the failure that matters reaches its
 * caller as a rejected promise (the projection runner logs it and records last_error), so the
 * attempts are warnings here, not a stream of errors during a broker restart.
 */
/**
 * Postlog's producer is idempotent (retries inside one request do not duplicate) but limits its
 * retries on purpose, so that an outage surfaces as an error: kafkajs warns about that at every
 * producer start. The guarantee Postlog gives is at-least-once with event ids (README), so this
 * warning says nothing an operator can act on.
 */
const expectedWarnings = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees']);

function pinoLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      // kafkajs' stack traces point into kafkajs, not at the cause: only at debug level
      const { message, timestamp: _timestamp, logger: _kafkajsLogger, stack, ...rest } = log;
      const extra = logger.isLevelEnabled('debug') ? { ...rest, stack } : rest;
      const child = logger.child({ kafka: namespace });
      if (expectedWarnings.has(message)) child.debug(extra, message);
      else if (level === logLevel.ERROR || level === logLevel.WARN) child.warn(extra, message);
      else if (level === logLevel.INFO) child.info(extra, message);
      else child.debug(extra, message);
    };
}

/** A kafkajs client for the configured brokers, logging through `logger`. */
export function createKafkaClient(o: KafkaClientOptions): Kafka {
  return new Kafka({
    clientId: o.clientId,
    brokers: o.brokers,
    logLevel: o.logger.isLevelEnabled('debug') ? logLevel.DEBUG : logLevel.INFO,
    logCreator: pinoLogCreator(o.logger),
    ...(o.ssl ? { ssl: o.ssl } : {}),
    ...(o.sasl ? { sasl: o.sasl } : {}),
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    // bounded: reconnects nest inside request retries, and an unreachable cluster must surface as an
    // error within seconds (the caller retries with its own back-off), not hold a shutdown for minutes
    retry: { initialRetryTime: 300, maxRetryTime: 3000, retries: 4 },
  });
}
