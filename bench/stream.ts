/**
 * `npm run bench -- stream`: how fast the event stream leaves Postlog. The log is filled with
 * BENCH_EVENTS message events (default 200,000) first; then each downstream measurement runs its
 * projection over the whole log, through the real projection runner (subscription, acknowledgement,
 * checkpoint commits), and reports events per second:
 *   - kafka: the kafka-publisher projection into a real Kafka broker (KRaft, started here);
 *   - webhooks: deliveries per second from a filled outbox to a local receiver that checks every
 *     HMAC, through a real `postlog start` (bench/webhooks.ts; BENCH_WEBHOOKS deliveries, 20,000;
 *     BENCH_SKIP_WEBHOOKS=1 leaves it out).
 * Settings: BENCH_EVENTS, BENCH_WARM_UP_EVENTS, and the POSTLOG_KAFKA_* variables of the publisher (batch size, compression, partitions).
 */
import { cpus, loadavg } from 'node:os';
import type pg from 'pg';
import { loadConfig, type Config } from '../infra/config/index.js';
import { START, type EventStore } from '../infra/event-store/index.js';
import { createKafkaClient } from '../infra/kafka/index.js';
import { createLogger, type Logger } from '../infra/logging/index.js';
import { createMetrics } from '../infra/metrics/index.js';
import { ProjectionRunner, type SinkProjection } from '../projections/runner.js';
import { sinkProjectionsFor } from '../app/adapters.js';
import { KAFKA_PUBLISHER } from '../projections/kafka/kafka-publisher.js';
import { measureWebhookDeliveries } from './webhooks.js';
import { startKafkaBroker } from '../test/helpers/kafka.js';
import { withFilledLog } from './fill-log.js';

const logger = createLogger({ level: process.env.POSTLOG_LOG_LEVEL ?? 'warn', format: 'json' });

/** What every measurement gets: the filled log and its database. */
interface StreamBenchContext {
  pool: pg.Pool;
  connectionString: string;
  store: EventStore;
  logEvents: number;
  logger: Logger;
}

export interface Throughput {
  events: number;
  seconds: number;
  eventsPerSecond: number;
}

/**
 * Runs `sink` over the whole log with the projection runner, as the projector role does, and
 * times it from the start until the batch with the last event is acknowledged and checkpointed.
 */
async function timeSink(ctx: StreamBenchContext, sink: SinkProjection, label: string): Promise<Throughput> {
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const runner = new ProjectionRunner(sink, {
    pool: ctx.pool,
    connectionString: ctx.connectionString,
    eventStore: ctx.store,
    logger: ctx.logger,
    onBatch: (_name, events) => {
      done += events.length;
      if (done % 50_000 < events.length) process.stderr.write(`${label}: ${done} events\n`);
      if (done >= ctx.logEvents) finish();
    },
  });
  const started = performance.now();
  runner.start();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await runner.stop();
  return { events: done, seconds: +seconds.toFixed(2), eventsPerSecond: Math.round(done / seconds) };
}

/**
 * A broker that just started runs interpreted Java until its JIT has compiled the hot paths; a
 * production broker has long been warm. So the measured run follows a warm-up that publishes the
 * log (BENCH_WARM_UP_EVENTS of it, default all) to another topic, not timed.
 */
async function warmUp(config: Config, ctx: StreamBenchContext, events: number): Promise<void> {
  const warm = sinkProjectionsFor({
    config: { ...config, kafkaTopic: 'postlog.bench-warm-up' },
    logger: ctx.logger,
    metrics: createMetrics(),
    eventStore: ctx.store,
  }).find((p) => p.name === KAFKA_PUBLISHER)!;
  let from = START;
  for (let sent = 0; sent < events; ) {
    const page = await ctx.store.readAll(from, config.kafkaBatchSize);
    if (page.events.length === 0) break;
    await warm.deliver(page.events);
    sent += page.events.length;
    from = page.checkpoint;
  }
  await warm.close?.();
}

/** The kafka-publisher projection, configured as `postlog start` would configure it, into a real broker. */
async function measureKafka(ctx: StreamBenchContext) {
  const broker = await startKafkaBroker({ heapMb: 1024 });
  try {
    const config = loadConfig({
      env: { ...process.env, POSTLOG_KAFKA_BROKERS: broker.bootstrap } as Record<string, string>,
    });
    await warmUp(config, ctx, Number(process.env.BENCH_WARM_UP_EVENTS ?? ctx.logEvents));
    const metrics = createMetrics();
    const sink = sinkProjectionsFor({ config, logger: ctx.logger, metrics, eventStore: ctx.store }).find(
      (p) => p.name === KAFKA_PUBLISHER,
    );
    const cpu = process.cpuUsage();
    const result = await timeSink(ctx, sink!, 'kafka');
    const cpuUsage = process.cpuUsage(cpu);
    const sendSeconds =
      (await metrics.registry.getSingleMetric('postlog_kafka_send_seconds')!.get()).values.find(
        (v) => (v as { metricName?: string }).metricName === 'postlog_kafka_send_seconds_sum',
      )?.value ?? 0;
    // the broker's count, not ours: every event is in the topic (duplicates would show as more)
    const admin = createKafkaClient({
      brokers: [broker.bootstrap],
      clientId: 'postlog-bench',
      logger: ctx.logger,
    }).admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(config.kafkaTopic);
    await admin.disconnect();
    const inTopic = offsets.reduce((n, p) => n + Number(p.high), 0);
    if (inTopic < ctx.logEvents) throw new Error(`the topic holds ${inTopic} records, the log ${ctx.logEvents} events`);
    process.stderr.write(
      `kafka: ${result.events} events in ${result.seconds} s = ${result.eventsPerSecond}/s; the topic holds ${inTopic} records\n`,
    );
    return {
      ...result,
      recordsInTopic: inTopic,
      // where the time went: waiting for the broker's acknowledgements, and Postlog's own CPU per event
      sendSeconds: +sendSeconds.toFixed(2),
      postlogCpuMicrosecondsPerEvent: Math.round((cpuUsage.user + cpuUsage.system) / result.events),
      batchSize: config.kafkaBatchSize,
      compression: config.kafkaCompression,
      partitions: config.kafkaPartitions,
    };
  } finally {
    await broker.destroy();
  }
}

export async function run() {
  return withFilledLog(Number(process.env.BENCH_EVENTS ?? 200_000), logger, async (log) => {
    const ctx: StreamBenchContext = {
      pool: log.pool,
      connectionString: log.connectionString,
      store: log.store,
      logEvents: log.events,
      logger,
    };
    const kafka = await measureKafka(ctx);
    // webhooks: deliveries/s from a filled outbox to a local receiver, through a real `postlog start`
    const webhooks = process.env.BENCH_SKIP_WEBHOOKS
      ? undefined
      : await measureWebhookDeliveries({ deliveries: Number(process.env.BENCH_WEBHOOKS ?? 20_000) });
    return {
      bench: 'stream',
      logEvents: log.events,
      messages: log.messages,
      kafka,
      webhooks,
      // the machine's 1-minute load average over its cores: a broker and Postlog sharing busy cores publish less
      machine: { cores: cpus().length, loadAverage: +loadavg()[0]!.toFixed(1) },
      targets: { kafkaEventsPerSecond: 20_000, webhookDeliveriesPerSecond: 1_000 },
      met: {
        kafka: kafka.eventsPerSecond >= 20_000,
        ...(webhooks ? { webhooks: webhooks.deliveriesPerSecond >= 1_000 } : {}),
      },
    };
  });
}
