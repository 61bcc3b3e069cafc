import { EVENTS_TABLE } from '../infra/clickhouse/events-table.js';
import { createClickHouse } from '../infra/clickhouse/index.js';
import { migrateClickHouse } from '../infra/clickhouse/migrations.js';
import { sql } from '../infra/clickhouse/sql.js';
import type { EventStore, RecordedEvent } from '../infra/event-store/index.js';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresEventStore } from '../infra/event-store/index.js';
import { createLogger } from '../infra/logging/index.js';
import { createPool, EmbeddedPostgres, migrate } from '../infra/postgres/index.js';
import { DimensionLookup } from '../projections/analytics/dimension-lookup.js';
import { freePort } from '../test/helpers/ports.js';
import { createMetrics } from '../infra/metrics/index.js';
import { clickhouseAnalyticsSink } from '../projections/analytics/clickhouse-analytics-sink.js';
import { ClickHouseReports } from '../read-api/analytics/clickhouse-reports.js';
import { ReportQuery, TimeSeriesQuery } from '../read-api/analytics/reports-port.js';
import { clickhouseSkipReason, startClickHouse } from '../test/helpers/clickhouse.js';
import { ingestSyntheticEvents } from './clickhouse-ingest.js';
import { syntheticDefaults, syntheticServerId } from './synthetic-events.js';

const logger = createLogger({ level: 'warn', format: 'json' });

/**
 * Recorded message events as the projection runner hands them to the sink: per message
 * MessageAccepted, MessageDelivered, then for some opens and clicks, in log order
 * with interleaved messages (several streams in flight at once, as in a real log).
 */
export function* recordedEvents(
  total: number,
  batchSize: number,
  maxMessages = Number.MAX_SAFE_INTEGER,
): Generator<RecordedEvent[]> {
  let position = 0;
  let batch: RecordedEvent[] = [];
  const base = Date.parse('2026-10-01T00:00:00Z');
  const inFlight: { id: number; revision: number; steps: string[] }[] = [];
  let nextMessage = 1;
  const data = (type: string, id: number, at: string): unknown => {
    switch (type) {
      case 'MessageAccepted':
        return {
          messageId: String(id),
          serverId: `srv-${String(id % 20).padStart(4, '0')}`,
          batchId: 'b',
          rfcMessageId: `${id}@bench`,
          token: 'AbCdEfGh12345678',
          from: 'news@bench.example',
          to: `r${id}@gmail.com`,
          subject: 'Hi',
          tag: 'bench',
          contentHash: 'c'.repeat(64),
          size: 3000,
          source: 'api',
          at,
        };
      case 'MessageQueued':
        return { dueAt: at, at };
      case 'MessageDelivered':
        return {
          delivery: {
            attempt: 1,
            mxHost: 'aspmx.l.google.com',
            localIp: '198.51.100.1',
            reply: { code: 250, text: 'OK' },
            durationMs: 40,
            at,
          },
          at,
        };
      case 'MessageOpened':
        return { machine: id % 8 === 0, userAgent: 'Mozilla/5.0', at };
      default:
        return { url: `https://shop.example/p/${id % 40}`, machine: false, at };
    }
  };
  while (position < total && (inFlight.length > 0 || nextMessage <= maxMessages)) {
    while (inFlight.length < 64 && nextMessage <= maxMessages) {
      const id = nextMessage++;
      // what the sink receives: its filter leaves out the types analytics ignores (MessageQueued…)
      const steps = ['MessageAccepted', 'MessageDelivered'];
      if (id % 3 === 0) steps.push('MessageOpened', 'MessageOpened');
      if (id % 10 === 0) steps.push('MessageLinkClicked');
      inFlight.push({ id, revision: 0, steps });
    }
    const slot = position % inFlight.length;
    const m = inFlight[slot]!;
    const type = m.steps[m.revision]!;
    const at = new Date(base + position * 10).toISOString();
    position++;
    batch.push({
      eventId: `0192aaaa-0000-7000-8000-${position.toString(16).padStart(12, '0')}`,
      type,
      streamId: `message-${m.id}`,
      revision: m.revision,
      position,
      checkpoint: String(position),
      recordedAt: new Date(at),
      schemaVersion: 1,
      data: data(type, m.id, at),
      metadata: {},
    });
    m.revision++;
    if (m.revision === m.steps.length) inFlight.splice(slot, 1);
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/**
 * What a message's dimensions cost the sink: from its cache (the usual case: the events of a
 * message follow each other within minutes) or, on a miss (cold cache after a restart, eviction),
 * read back from the log (readStreams on PostgreSQL, one call per batch of 5,000 events). Writes
 * `messages` messages' events to a private embedded PostgreSQL, then flattens them with a cache that
 * holds them all and with a cache of one message.
 */
async function measureLookups(messages: number) {
  const dir = mkdtempSync(join(tmpdir(), 'postlog-bench-analytics-pg-'));
  chmodSync(dir, 0o755); // as root the server runs as "postgres"
  const pgServer = new EmbeddedPostgres({ dataDir: dir, port: await freePort(), logger });
  const url = await pgServer.start();
  const pool = createPool(url, 8, logger);
  const store = new PostgresEventStore({ pool, connectionString: url, logger });
  try {
    await migrate(pool, logger);
    const events = [...recordedEvents(Number.MAX_SAFE_INTEGER, 1_000_000, messages)].flat();
    const streams = new Map<string, RecordedEvent[]>();
    for (const e of events) streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), e]);
    // round by round (every message's first event, then every second one…): a message's events far
    // apart in the log, as when many messages are in flight, so a small cache must read them back
    const all = [...streams.values()];
    for (let round = 0; all.some((es) => es.length > round); round++) {
      const due = all.filter((es) => es.length > round);
      for (let i = 0; i < due.length; i += 500) {
        const res = await store.appendMany(
          due.slice(i, i + 500).map((es) => ({
            streamId: es[0]!.streamId,
            expected: round === 0 ? ('no_stream' as const) : round - 1,
            events: [{ type: es[round]!.type, data: es[round]!.data }],
          })),
        );
        if (!res.ok) throw new Error(JSON.stringify(res.error));
      }
    }
    const logged = (await store.readAll('start', events.length + 10, { streamPrefixes: ['message-'] })).events;
    const time = async (lookup: DimensionLookup) => {
      const t0 = performance.now();
      for (let i = 0; i < logged.length; i += 5000) await lookup.flatten(logged.slice(i, i + 5000));
      return ((performance.now() - t0) * 1000) / logged.length;
    };
    let misses = 0;
    const warm = await time(new DimensionLookup(store));
    const cold = await time(new DimensionLookup(store, { maxMessages: 1, onLookups: (_h, m) => (misses += m) }));
    return {
      events: logged.length,
      messages,
      warmMicrosPerEvent: Number(warm.toFixed(1)),
      allMissesMicrosPerEvent: Number(cold.toFixed(1)),
      misses,
    };
  } finally {
    await store.close();
    await pool.end();
    await pgServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Wall-clock p50/p95, and the ClickHouse server's CPU per query (what the wall time would be near on an idle machine, divided by its threads). */
async function latency(runs: number, serverCpuSeconds: () => number, f: () => Promise<unknown>) {
  await f(); // warm-up
  const ms: number[] = [];
  const cpu0 = serverCpuSeconds();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  const cpuMs = ((serverCpuSeconds() - cpu0) * 1000) / runs;
  ms.sort((a, b) => a - b);
  return {
    p50: Math.round(percentile(ms, 50)),
    p95: Math.round(percentile(ms, 95)),
    clickhouseCpuMs: Math.round(cpuMs),
  };
}

/**
 * `npm run bench -- analytics`: the ClickHouse analytics path on a private ClickHouse 18.16.
 * 1. Projection ingest: BENCH_PROJECTION_EVENTS (default 500,000) recorded message events through the
 *    real sink projection's deliver() (decode, dimension lookup, flatten, batched JSONEachRow insert),
 *    as the runner calls it; the runner's own reading of the Postgres log is not part of this number.
 * 2. Bulk load: the rest of BENCH_EVENTS (default 10,000,000) synthetic engagement rows inserted
 *    directly (generating 10 million events through the event log would take far longer than the bench).
 * 3. Report latency over all of it: funnel and daily time series for the busiest server (a third of
 *    all rows) and for a typical one, over the 30 days the data spans.
 */
export async function run() {
  const skip = clickhouseSkipReason();
  if (skip) throw new Error(skip);
  const totalEvents = Number(process.env.BENCH_EVENTS ?? 10_000_000);
  const projectionEvents = Math.min(totalEvents, Number(process.env.BENCH_PROJECTION_EVENTS ?? 500_000));
  const runs = Number(process.env.BENCH_QUERY_RUNS ?? 20);
  const server = await startClickHouse({ maxMemoryUsage: 8_000_000_000 });
  process.stderr.write(`clickhouse 18.16 on ${server.url}\n`);
  const config = { url: server.url, database: 'bench' };
  const ch = createClickHouse(config);
  try {
    await migrateClickHouse(ch, logger);
    // 1. the projection path
    const noLog = { readStreams: async () => new Map() } as unknown as EventStore; // every message starts in the slice: the cache has them all
    const sink = clickhouseAnalyticsSink({
      clickhouse: createClickHouse(config),
      eventStore: noLog,
      logger,
      metrics: createMetrics(),
      minInsertIntervalMs: 0,
    });
    const batchSize = sink.batchSize!;
    let projected = 0;
    const cpu0 = process.cpuUsage();
    const serverCpu0 = server.cpuSeconds();
    const t0 = performance.now();
    for (const batch of recordedEvents(projectionEvents, batchSize)) {
      await sink.deliver(batch);
      projected += batch.length;
    }
    const projectionSeconds = (performance.now() - t0) / 1000;
    const nodeCpu = (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(cpu0));
    const clickhouseCpu = server.cpuSeconds() - serverCpu0;
    await sink.close?.();
    const [rows] = await ch.query<{ n: number }>(sql`SELECT count() AS n FROM ${ch.table(EVENTS_TABLE)}`);
    const ingestEventsPerSecond = Math.round(projected / projectionSeconds);
    process.stderr.write(
      `projection: ${projected} events (${rows!.n} rows) in ${projectionSeconds.toFixed(1)} s: ${ingestEventsPerSecond} events/s, batches of ${batchSize}; CPU: node ${nodeCpu.toFixed(1)} s, ClickHouse ${clickhouseCpu.toFixed(1)} s\n`,
    );

    // 1b. the dimension lookup: cache hits against reads from the log
    const lookups = await measureLookups(Number(process.env.BENCH_LOOKUP_MESSAGES ?? 5000));
    process.stderr.write(
      `dimension lookup over ${lookups.events} logged events: ${lookups.warmMicrosPerEvent} µs/event with a warm cache, ${lookups.allMissesMicrosPerEvent} µs/event when every batch reads its messages from the log (${lookups.misses} misses)\n`,
    );

    // 2. the bulk of the data set
    const bulk = totalEvents - rows!.n;
    let reported = 0;
    const loaded = await ingestSyntheticEvents(ch, {
      events: bulk,
      batchSize: 100_000,
      progress: (n) => {
        if (n - reported >= 1_000_000) process.stderr.write(`  bulk: ${(reported = n)} rows\n`);
      },
    });
    process.stderr.write(
      `bulk: ${loaded.events} rows in ${loaded.seconds.toFixed(1)} s (${loaded.eventsPerSecond}/s)\n`,
    );

    // 3. report latency
    const reports = new ClickHouseReports(createClickHouse({ ...config, requestTimeoutMs: 60_000 }));
    const end = syntheticDefaults.end.toISOString();
    const from = new Date(syntheticDefaults.end.getTime() - syntheticDefaults.days * 86_400_000).toISOString();
    const scopes = { busiest: syntheticServerId(0), typical: syntheticServerId(7) };
    const measured: Record<
      string,
      { funnel: Awaited<ReturnType<typeof latency>>; timeSeries: Awaited<ReturnType<typeof latency>> }
    > = {};
    for (const [label, serverId] of Object.entries(scopes)) {
      const q = { scope: { serverIds: [serverId] }, range: { from, to: end } };
      const funnel = await latency(
        runs,
        () => server.cpuSeconds(),
        () => reports.funnel(ReportQuery.parse(q)),
      );
      const timeSeries = await latency(
        runs,
        () => server.cpuSeconds(),
        () => reports.timeSeries(TimeSeriesQuery.parse({ ...q, bucket: 'day', timeZone: 'Europe/Paris' })),
      );
      measured[label] = { funnel, timeSeries };
      process.stderr.write(
        `${label} server (${serverId}): funnel p50 ${funnel.p50} ms p95 ${funnel.p95} ms (ClickHouse CPU ${funnel.clickhouseCpuMs} ms); daily time series p50 ${timeSeries.p50} ms p95 ${timeSeries.p95} ms (CPU ${timeSeries.clickhouseCpuMs} ms)\n`,
      );
    }
    const load = (await import('node:os')).loadavg()[0]!;
    process.stderr.write(
      `load average during the run: ${load.toFixed(1)} on ${(await import('node:os')).cpus().length} cores\n`,
    );
    const [total] = await ch.query<{ n: number; servers: number }>(
      sql`SELECT count() AS n, uniqExact(server_id) AS servers FROM ${ch.table(EVENTS_TABLE)}`,
    );
    const worst = measured.busiest!;
    const targets = { ingestEventsPerSecond: 50_000, funnelMs: 500, timeSeriesMs: 500 };
    return {
      bench: 'analytics',
      clickhouse: '18.16',
      events: total!.n,
      servers: total!.servers,
      projection: {
        events: projected,
        seconds: Number(projectionSeconds.toFixed(2)),
        batchSize,
        // CPU per million events: what the rate would be on an unshared machine (this one has 2 cores shared by several people)
        nodeCpuSecondsPerMillion: Number(((nodeCpu / projected) * 1e6).toFixed(2)),
        clickhouseCpuSecondsPerMillion: Number(((clickhouseCpu / projected) * 1e6).toFixed(2)),
        note: 'the sink projection deliver() path (decode, dimension lookup, flatten, batched insert) on a slice; the rest of the data set bulk-inserted',
      },
      dimensionLookup: lookups,
      ingestEventsPerSecond,
      bulkInsertEventsPerSecond: loaded.eventsPerSecond,
      reports: measured,
      loadAverage: Number(load.toFixed(1)),
      funnelMs: worst.funnel.p95,
      timeSeriesMs: worst.timeSeries.p95,
      targets,
      meetsTargets:
        ingestEventsPerSecond >= targets.ingestEventsPerSecond &&
        worst.funnel.p95 < targets.funnelMs &&
        worst.timeSeries.p95 < targets.timeSeriesMs,
    };
  } finally {
    await ch.close();
    await server.stop();
  }
}
