import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { messageEventCodec, type MessageEvent } from '../domain/index.js';
import { PostgresEventStore, type EventToAppend } from '../infra/event-store/index.js';
import { createLogger } from '../infra/logging/index.js';
import { EmbeddedPostgres, createPool, migrate } from '../infra/postgres/index.js';
import { rebuildProjections, verifyProjection } from '../projections/maintenance.js';
import { projections } from '../projections/registry.js';
import { freePort } from '../test/helpers/ports.js';

const logger = createLogger({ level: 'warn', format: 'json' });
const SERVERS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];

/** A realistic life: most delivered (some after a deferral), some bounced, opens and clicks. */
function lifeOf(id: number, base: number): MessageEvent[] {
  const t = (s: number) => new Date(base + s * 1000).toISOString();
  const to = `user${id}@domain${id % 50}.example`;
  const delivery = (attempt: number, code: number, s: number) => ({ attempt, mxHost: `mx${id % 7}.example`, remoteIp: '192.0.2.1', tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, reply: { code, text: code === 250 ? '2.0.0 OK' : '4.7.1 try later' }, durationMs: 40, at: t(s) });
  const events: MessageEvent[] = [
    { type: 'MessageAccepted', data: { messageId: String(id), serverId: SERVERS[id % 2]!, batchId: `b${Math.floor(id / 10)}`, rfcMessageId: `${id}@bench`, token: 'AbCdEfGh12345678', from: 'news@sender.example', to, subject: `Newsletter ${id % 100}`, tag: id % 3 ? 'news' : 'receipt', contentHash: 'c'.repeat(64), size: 3000, source: 'api', at: t(0) } },
    { type: 'MessageQueued', data: { dueAt: t(0), at: t(0) } },
  ];
  const r = id % 20;
  if (r === 0) {
    events.push({ type: 'MessageBounced', data: { kind: 'sync', delivery: delivery(1, 550, 2), enhancedCode: '5.1.1', diagnostic: '550 5.1.1 user unknown', classification: 'bad-mailbox', suppress: true, at: t(2) } });
    return events;
  }
  if (r < 4) events.push({ type: 'MessageDeferred', data: { delivery: delivery(1, 451, 2), reason: '451 4.7.1 try later', nextAttemptAt: t(62), at: t(2) } });
  events.push({ type: 'MessageDelivered', data: { delivery: delivery(r < 4 ? 2 : 1, 250, r < 4 ? 62 : 2), at: t(r < 4 ? 62 : 2) } });
  if (r % 3 === 0) events.push({ type: 'MessageOpened', data: { machine: false, at: t(300) } });
  if (r % 6 === 0) events.push({ type: 'MessageLinkClicked', data: { url: 'https://example.org/a', machine: false, at: t(320) } });
  return events;
}

export async function run() {
  const target = Number(process.env.BENCH_EVENTS ?? 1_000_000);
  const dir = mkdtempSync(join(tmpdir(), 'postlog-replay-'));
  chmodSync(dir, 0o755);
  const pg = new EmbeddedPostgres({ dataDir: dir, port: await freePort(), logger });
  const url = await pg.start();
  const pool = createPool(url, 20, logger);
  try {
    await migrate(pool, logger);
    const store = new PostgresEventStore({ pool, connectionString: url, logger });
    let events = 0;
    let id = 0;
    const base = Date.parse('2026-10-01T00:00:00Z');
    const t0 = performance.now();
    while (events < target) {
      const appends = [];
      for (let i = 0; i < 400 && events < target; i++) {
        const life = lifeOf(++id, base + id * 1000);
        events += life.length;
        appends.push({
          streamId: `message-${id}`,
          expected: 'no_stream' as const,
          events: life.map((e): EventToAppend => ({ type: e.type, schemaVersion: messageEventCodec.schemaVersionOf(e.type), data: e.data, metadata: { serverId: SERVERS[id % 2]! } })),
        });
      }
      const res = await store.appendMany(appends);
      if (!res.ok) throw new Error(JSON.stringify(res.error));
      if (id % 20_000 < 400) process.stderr.write(`\rwriting the log: ${events} events`);
    }
    process.stderr.write(`\rwrote ${events} events (${id} messages) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const results: { projection: string; events: number; seconds: number; eventsPerSecond: number }[] = [];
    let total = 0;
    const r0 = performance.now();
    // one pass over the log rebuilds every read model (`postlog projections rebuild`)
    const rebuilt = await rebuildProjections(pool, store, projections, (n) => n % 100_000 < 5000 && process.stderr.write(`rebuilding: ${n} events read\n`));
    process.stderr.write('\n');
    for (const [name, r] of rebuilt) {
      results.push({ projection: name, events: r.events, seconds: +r.seconds.toFixed(2), eventsPerSecond: Math.round(r.events / r.seconds) });
      total += r.events;
    }
    const rebuildSeconds = (performance.now() - r0) / 1000;
    const v0 = performance.now();
    const verified = await verifyProjection(pool, store, projections.find((p) => p.name === 'message-read-models')!);
    const verifySeconds = (performance.now() - v0) / 1000;
    process.stderr.write(`verified message-read-models: ${verified.ok ? 'identical' : 'DIFFERENT'} in ${verifySeconds.toFixed(1)} s\n`);
    await store.close();
    // the log's events, each rebuilt into every read model, per second of wall time
    const perSecond = Math.round(events / rebuildSeconds);
    return {
      bench: 'replay',
      logEvents: events,
      messages: id,
      rebuild: results,
      allReadModels: { logEvents: events, projectedEvents: total, seconds: +rebuildSeconds.toFixed(2), eventsPerSecond: perSecond },
      verify: { projection: 'message-read-models', ok: verified.ok, seconds: +verifySeconds.toFixed(2) },
      targets: { eventsPerSecond: 20_000, maxSecondsFor1M: 50 },
      met: { rate: perSecond >= 20_000 },
    };
  } finally {
    await pool.end();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
