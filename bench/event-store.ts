import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresEventStore, START, type EventStore } from '../infra/event-store/index.js';
import { createLogger } from '../infra/logging/index.js';
import { EmbeddedPostgres, createPool, migrate } from '../infra/postgres/index.js';
import { freePort } from '../test/helpers/ports.js';

const logger = createLogger({ level: 'warn', format: 'json' });
const payload = {
  messageId: 'm',
  serverId: 's',
  to: 'someone@example.com',
  subject: 'Benchmark message with a realistic subject line',
  size: 3072,
};

/** Single-event appends by `writers` concurrent writers (each to its own streams) for `seconds`. */
async function appendRate(
  store: EventStore,
  writers: number,
  seconds: number,
): Promise<{ writers: number; events: number; eventsPerSecond: number; p99Ms: number }> {
  const deadline = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let events = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        const res = await store.append(
          `bench-${writers}-${w}-${i}`,
          [{ type: 'MessageAccepted', data: payload }],
          'no_stream',
        );
        if (!res.ok) throw new Error(JSON.stringify(res.error));
        latencies.push(performance.now() - t0);
        events++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const elapsed = seconds;
  return {
    writers,
    events,
    eventsPerSecond: Math.round(events / elapsed),
    p99Ms: +latencies[Math.floor(latencies.length * 0.99)]!.toFixed(2),
  };
}

export async function run() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 8);
  const dir = mkdtempSync(join(tmpdir(), 'postlog-bench-'));
  chmodSync(dir, 0o755);
  const pg = new EmbeddedPostgres({ dataDir: dir, port: await freePort(), logger });
  const url = await pg.start();
  const pool = createPool(url, 40, logger);
  try {
    await migrate(pool, logger);
    const store = new PostgresEventStore({ pool, connectionString: url, logger });
    const appends = [];
    for (const writers of [1, 8, 64]) {
      const r = await appendRate(store, writers, seconds);
      process.stderr.write(`append, ${writers} writers: ${r.eventsPerSecond} events/s (p99 ${r.p99Ms} ms)\n`);
      appends.push(r);
    }
    // make sure the catch-up read has at least 200k events to chew on
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
    let total = rows[0]!.n;
    const filler = Array.from({ length: 100 }, () => ({ type: 'Filler', data: payload }));
    for (let i = 0; total < 200_000; i++) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => store.append(`fill-${i}-${j}`, filler, 'no_stream')));
      total += 1000;
    }
    let cp = START;
    let read = 0;
    const t0 = performance.now();
    for (;;) {
      const page = await store.readAll(cp, 1000);
      if (page.events.length === 0) break;
      read += page.events.length;
      cp = page.checkpoint;
    }
    const readSeconds = (performance.now() - t0) / 1000;
    const readPerSecond = Math.round(read / readSeconds);
    process.stderr.write(`catch-up read: ${read} events in ${readSeconds.toFixed(2)} s = ${readPerSecond} events/s\n`);
    await store.close();
    const at64 = appends.find((a) => a.writers === 64)!.eventsPerSecond;
    return {
      bench: 'event-store',
      durableCommit: true,
      secondsPerRun: seconds,
      append: Object.fromEntries(
        appends.map((a) => [
          `writers${a.writers}`,
          { eventsPerSecond: a.eventsPerSecond, p99Ms: a.p99Ms, events: a.events },
        ]),
      ),
      catchUpRead: { events: read, eventsPerSecond: readPerSecond },
      targets: { appendEventsPerSecondAt64Writers: 10_000, catchUpReadEventsPerSecond: 50_000 },
      met: { append: at64 >= 10_000, read: readPerSecond >= 50_000 },
    };
  } finally {
    await pool.end();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
