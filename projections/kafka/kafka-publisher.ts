import {
  CompressionTypes,
  Partitioners,
  type Admin,
  type Kafka,
  type Message,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import { messageEventCodec } from '../../domain/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { Metrics } from '../../infra/metrics/index.js';
import type { SinkProjection } from '../runner.js';
import { toKafkaRecord } from './event-message.js';

export const KAFKA_PUBLISHER = 'kafka-publisher';

export interface KafkaPublisherOptions {
  kafka: Kafka;
  logger: Logger;
  metrics: Metrics;
  /** Every event goes here, unless perType. */
  topic: string;
  /** Each event type to its own topic, <topic>.<type>, instead of the one topic. */
  perType: boolean;
  /** Partitions of the topics Postlog creates (existing topics keep theirs). */
  partitions: number;
  compression: 'none' | 'gzip';
  /** Events per batch the runner hands over (and so per produce request). */
  batchSize: number;
}

/**
 * Publishes every event of the log to Kafka: a sink projection, so the checkpoint moves only after
 * the broker acknowledged the whole batch (acks = all), and a broker that is slow or down holds
 * the stream back instead of letting events pile up in memory. At-least-once: a batch that failed
 * part-way is sent again, so consumers drop duplicates by event id.
 */
export function createKafkaPublisher(o: KafkaPublisherOptions): SinkProjection {
  const log = o.logger.child({ component: KAFKA_PUBLISHER });
  const published = new Counter({
    name: 'postlog_kafka_published_events_total',
    help: 'Events the Kafka broker acknowledged, by topic',
    labelNames: ['topic'],
    registers: [o.metrics.registry],
  });
  const failures = new Counter({
    name: 'postlog_kafka_send_failures_total',
    help: 'Batches Kafka did not acknowledge (they are sent again)',
    registers: [o.metrics.registry],
  });
  const sendSeconds = new Histogram({
    name: 'postlog_kafka_send_seconds',
    help: 'Time from handing a batch to the producer until the broker acknowledged it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [o.metrics.registry],
  });
  const topicOf = (type: string) => (o.perType ? `${o.topic}.${type}` : o.topic);
  const knownTopics = new Set<string>();
  let producer: Producer | undefined;
  let admin: Admin | undefined;

  /** Creates the topics that do not exist yet (the broker's replication default applies). */
  async function ensureTopics(topics: string[]): Promise<void> {
    const missing = topics.filter((t) => !knownTopics.has(t));
    if (missing.length === 0) return;
    if (!admin) {
      const a = o.kafka.admin();
      await a.connect();
      admin = a;
    }
    const existing = new Set(await admin.listTopics());
    const toCreate = missing.filter((t) => !existing.has(t));
    if (toCreate.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: toCreate.map((topic) => ({ topic, numPartitions: o.partitions })),
      });
      log.info({ topics: toCreate, partitions: o.partitions }, 'created Kafka topics');
    }
    for (const t of missing) knownTopics.add(t);
  }

  async function connectedProducer(): Promise<Producer> {
    if (producer) return producer;
    // every type's topic up front, so a first event of a rare type does not wait for a topic
    await ensureTopics(o.perType ? messageEventCodec.types.map(topicOf) : [o.topic]);
    const p = o.kafka.producer({
      // retries within one producer keep their sequence numbers: the broker drops the duplicates
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner, // murmur2 like the Java client: same key, same partition
      // finite: past this the batch fails, the runner records the error and retries with back-off
      retry: { retries: 4, initialRetryTime: 300, maxRetryTime: 3000 },
    });
    await p.connect();
    producer = p;
    log.info('connected to Kafka');
    return p;
  }

  /**
   * Drops the clients after a failure: the next batch starts with fresh connections and a fresh
   * producer (a new producer id, so no sequence numbers left over from the failed batch).
   */
  async function discardClients(): Promise<void> {
    const [p, a] = [producer, admin];
    producer = undefined;
    admin = undefined;
    await p?.disconnect().catch((err: Error) => log.debug({ error: err.message }, 'disconnecting the Kafka producer'));
    await a
      ?.disconnect()
      .catch((err: Error) => log.debug({ error: err.message }, 'disconnecting the Kafka admin client'));
  }

  return {
    name: KAFKA_PUBLISHER,
    version: 1,
    batchSize: o.batchSize,
    async deliver(events: RecordedEvent[]): Promise<void> {
      const byTopic = new Map<string, Message[]>();
      for (const event of events) {
        const topic = topicOf(event.type);
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, (list = []));
        list.push(toKafkaRecord(event));
      }
      const started = performance.now();
      try {
        if (o.perType) await ensureTopics([...byTopic.keys()]);
        const p = await connectedProducer();
        const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
        await p.sendBatch({
          topicMessages,
          acks: -1,
          compression: o.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
        });
      } catch (err) {
        failures.inc();
        await discardClients();
        throw new Error(
          `Kafka did not acknowledge ${events.length} events (positions ${events[0]?.position}–${events[events.length - 1]?.position}): ${(err as Error).message}`,
          { cause: err },
        );
      }
      sendSeconds.observe((performance.now() - started) / 1000);
      for (const [topic, messages] of byTopic) published.inc({ topic }, messages.length);
    },
    close: discardClients,
  };
}
