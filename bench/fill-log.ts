import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { messageEventCodec, type MessageEvent } from '../domain/index.js';
import { PostgresEventStore, type EventStore, type EventToAppend } from '../infra/event-store/index.js';
import type { Logger } from '../infra/logging/index.js';
import { EmbeddedPostgres, createPool, migrate } from '../infra/postgres/index.js';
import { freePort } from '../test/helpers/ports.js';

/** A log of realistic message lives, for the benchmarks that read it (replay, stream). */
const SERVERS = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];

/** A realistic life: most delivered (some after a deferral), some bounced, opens and clicks. */
export function lifeOf(id: number, base: number): MessageEvent[] {
  const t = (s: number) => new Date(base + s * 1000).toISOString();
  const to = `user${id}@domain${id % 50}.example`;
  const delivery = (attempt: number, code: number, s: number) => ({
    attempt,
    mxHost: `mx${id % 7}.example`,
    remoteIp: '192.0.2.1',
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    reply: { code, text: code === 250 ? '2.0.0 OK' : '4.7.1 try later' },
    durationMs: 40,
    at: t(s),
  });
  const events: MessageEvent[] = [
    {
      type: 'MessageAccepted',
      data: {
        messageId: String(id),
        serverId: SERVERS[id % 2]!,
        batchId: `b${Math.floor(id / 10)}`,
        rfcMessageId: `${id}@bench`,
        token: 'AbCdEfGh12345678',
        from: 'news@sender.example',
        to,
        subject: `Newsletter ${id % 100}`,
        tag: id % 3 ? 'news' : 'receipt',
        contentHash: 'c'.repeat(64),
        size: 3000,
        source: 'api',
        at: t(0),
      },
    },
    { type: 'MessageQueued', data: { dueAt: t(0), at: t(0) } },
  ];
  const r = id % 20;
  if (r === 0) {
    events.push({
      type: 'MessageBounced',
      data: {
        kind: 'sync',
        delivery: delivery(1, 550, 2),
        enhancedCode: '5.1.1',
        diagnostic: '550 5.1.1 user unknown',
        classification: 'bad-mailbox',
        suppress: true,
        at: t(2),
      },
    });
    return events;
  }
  if (r < 4)
    events.push({
      type: 'MessageDeferred',
      data: { delivery: delivery(1, 451, 2), reason: '451 4.7.1 try later', nextAttemptAt: t(62), at: t(2) },
    });
  events.push({
    type: 'MessageDelivered',
    data: { delivery: delivery(r < 4 ? 2 : 1, 250, r < 4 ? 62 : 2), at: t(r < 4 ? 62 : 2) },
  });
  if (r % 3 === 0) events.push({ type: 'MessageOpened', data: { machine: false, at: t(300) } });
  if (r % 6 === 0)
    events.push({ type: 'MessageLinkClicked', data: { url: 'https://example.org/a', machine: false, at: t(320) } });
  return events;
}

/** Appends message lives until the log holds at least `target` events; returns the counts. */
export async function fillLog(
  store: EventStore,
  target: number,
): Promise<{ events: number; messages: number; seconds: number }> {
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
        events: life.map(
          (e): EventToAppend => ({
            type: e.type,
            schemaVersion: messageEventCodec.schemaVersionOf(e.type),
            data: e.data,
            metadata: { serverId: SERVERS[id % 2]! },
          }),
        ),
      });
    }
    const res = await store.appendMany(appends);
    if (!res.ok) throw new Error(JSON.stringify(res.error));
    if (id % 20_000 < 400) process.stderr.write(`\rwriting the log: ${events} events`);
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stderr.write(`\rwrote ${events} events (${id} messages) in ${seconds.toFixed(1)} s\n`);
  return { events, messages: id, seconds };
}

export interface FilledLog {
  pool: pg.Pool;
  connectionString: string;
  store: PostgresEventStore;
  events: number;
  messages: number;
}

/** A fresh embedded PostgreSQL whose log holds `target` events, for `work`; removed afterwards. */
export async function withFilledLog<T>(
  target: number,
  logger: Logger,
  work: (log: FilledLog) => Promise<T>,
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'postlog-bench-log-'));
  chmodSync(dir, 0o755);
  const pg = new EmbeddedPostgres({ dataDir: dir, port: await freePort(), logger });
  const url = await pg.start();
  const pool = createPool(url, 20, logger);
  try {
    await migrate(pool, logger);
    const store = new PostgresEventStore({ pool, connectionString: url, logger });
    try {
      const filled = await fillLog(store, target);
      return await work({ pool, connectionString: url, store, events: filled.events, messages: filled.messages });
    } finally {
      await store.close();
    }
  } finally {
    await pool.end();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
