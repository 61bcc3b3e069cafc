import { createClickHouse, type ClickHouse } from '../infra/clickhouse/client.js';
import { EVENTS_TABLE, insertEvents } from '../infra/clickhouse/events-table.js';
import { migrateClickHouse } from '../infra/clickhouse/migrations.js';
import { sql } from '../infra/clickhouse/sql.js';
import { createLogger } from '../infra/logging/index.js';
import { clickhouseSkipReason, startClickHouse } from '../test/helpers/clickhouse.js';
import { syntheticEventBatches, type SyntheticOptions } from './synthetic-events.js';

export interface IngestResult {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  batchSize: number;
  concurrency: number;
  format: 'rowbinary' | 'json';
}

/**
 * Inserts synthetic event rows into the events table as fast as the client and server allow:
 * `concurrency` inserts in flight, each one batch (one JSONEachRow INSERT). Reused by the
 * analytics benchmark to load its data set.
 */
export async function ingestSyntheticEvents(
  ch: ClickHouse,
  options: SyntheticOptions & {
    concurrency?: number;
    format?: 'rowbinary' | 'json';
    progress?: (inserted: number) => void;
  },
): Promise<IngestResult> {
  const concurrency = options.concurrency ?? 2;
  const batches = syntheticEventBatches(options);
  let inserted = 0;
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      const next = batches.next(); // generators are synchronous: workers take turns
      if (next.done) return;
      if (options.format === 'json') await ch.insert(EVENTS_TABLE, next.value);
      else await insertEvents(ch, next.value);
      inserted += next.value.length;
      options.progress?.(inserted);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    events: inserted,
    seconds,
    eventsPerSecond: Math.round(inserted / seconds),
    batchSize: options.batchSize,
    concurrency,
    format: options.format ?? 'rowbinary',
  };
}

/** `npm run bench -- clickhouse-ingest`: raw insert rate into a private ClickHouse 18.16. */
export async function run() {
  const skip = clickhouseSkipReason();
  if (skip) throw new Error(skip);
  const events = Number(process.env.BENCH_EVENTS ?? 10_000_000);
  const batchSize = Number(process.env.BENCH_BATCH ?? 100_000);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 2);
  const format = process.env.BENCH_FORMAT === 'json' ? 'json' : 'rowbinary';
  const server = await startClickHouse({ maxMemoryUsage: 8_000_000_000 });
  process.stderr.write(`clickhouse 18.16 on ${server.url}, started in ${server.startupMs} ms\n`);
  const ch = createClickHouse({ url: server.url, database: 'bench' });
  try {
    await migrateClickHouse(ch, createLogger({ level: 'warn', format: 'json' }));
    let reported = 0;
    const serverCpu0 = server.cpuSeconds();
    const clientCpu0 = process.cpuUsage();
    const result = await ingestSyntheticEvents(ch, {
      events,
      batchSize,
      concurrency,
      format,
      progress: (n) => {
        if (n - reported >= 1_000_000) {
          reported = n;
          process.stderr.write(`  ${n} events\n`);
        }
      },
    });
    const serverCpu = server.cpuSeconds() - serverCpu0;
    const clientCpuUsage = process.cpuUsage(clientCpu0);
    const clientCpu = (clientCpuUsage.user + clientCpuUsage.system) / 1e6;
    const [stored] = await ch.query<{ n: number }>(sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)}`);
    if (stored?.n !== events) throw new Error(`inserted ${events} events but the table holds ${stored?.n}`);
    process.stderr.write(
      `${result.events} events in ${result.seconds.toFixed(1)} s: ${result.eventsPerSecond} events/s; CPU: ClickHouse ${serverCpu.toFixed(1)} s, node (generate + serialise + send) ${clientCpu.toFixed(1)} s\n`,
    );
    return {
      bench: 'clickhouse-ingest',
      clickhouse: '18.16',
      startupMs: server.startupMs,
      ...result,
      seconds: Number(result.seconds.toFixed(2)),
      // CPU per million events: what the rate would be without the other tenants of this machine
      clickhouseCpuSecondsPerMillion: Number(((serverCpu / events) * 1e6).toFixed(2)),
      nodeCpuSecondsPerMillion: Number(((clientCpu / events) * 1e6).toFixed(2)),
      // report latency is the analytics bench's: it measures the report adapter itself
      target: { eventsPerSecond: 50_000 },
      meetsTarget: result.eventsPerSecond >= 50_000,
    };
  } finally {
    await ch.close();
    await server.stop();
  }
}
