import { createClickHouse, type ClickHouse } from '../infra/clickhouse/client.js';
import { EVENTS_TABLE, insertEvents } from '../infra/clickhouse/events-table.js';
import { migrateClickHouse } from '../infra/clickhouse/migrations.js';
import { sql } from '../infra/clickhouse/sql.js';
import { createLogger } from '../infra/logging/index.js';
import { clickhouseSkipReason, startClickHouse } from '../test/helpers/clickhouse.js';
import { funnelQuery, timeSeriesQuery } from '../infra/clickhouse/event-queries.js';
import { syntheticDefaults, syntheticEventBatches, syntheticServerId, type SyntheticOptions } from './synthetic-events.js';

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
  options: SyntheticOptions & { concurrency?: number; format?: 'rowbinary' | 'json'; progress?: (inserted: number) => void },
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
  return { events: inserted, seconds, eventsPerSecond: Math.round(inserted / seconds), batchSize: options.batchSize, concurrency, format: options.format ?? 'rowbinary' };
}

/** p50/p95 of the reference funnel and time-series queries over the synthetic data's busiest server and whole range. */
export async function referenceQueryLatency(ch: ClickHouse, runs: number) {
  const { days, end } = syntheticDefaults;
  const scope = { database: ch.database, serverIds: [syntheticServerId(0)], from: new Date(end.getTime() - days * 86_400_000), to: end };
  const types = ['MessageAccepted', 'MessageDelivered', 'MessageBounced', 'MessageOpened', 'MessageLinkClicked'];
  const queries = { funnel: funnelQuery(scope, types), timeSeriesHourly: timeSeriesQuery(scope, 'hour', types), timeSeriesDaily: timeSeriesQuery(scope, 'day', types) };
  const out: Record<string, { p50Ms: number; p95Ms: number }> = {};
  for (const [name, query] of Object.entries(queries)) {
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await ch.query(query);
      ms.push(performance.now() - started);
    }
    ms.sort((a, b) => a - b);
    const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!);
    out[name] = { p50Ms: at(0.5), p95Ms: at(0.95) };
  }
  return out;
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
    const latency = await referenceQueryLatency(ch, Number(process.env.BENCH_QUERY_RUNS ?? 20));
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
      // The reference queries (event-queries.ts) on the busiest server, 30 days: groundwork for the
      // analytics bench, which measures the report adapter itself.
      referenceQueries: latency,
      target: { eventsPerSecond: 50_000, queryP95Ms: 500 },
      meetsTarget: result.eventsPerSecond >= 50_000 && Object.values(latency).every((l) => l.p95Ms < 500),
    };
  } finally {
    await ch.close();
    await server.stop();
  }
}
