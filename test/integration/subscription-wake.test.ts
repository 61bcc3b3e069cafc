import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PostgresEventStore, type RecordedEvent } from '../../infra/event-store/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';

const event = (n: number) => ({
  type: 'Noted',
  schemaVersion: 1,
  data: { n },
  metadata: { correlationId: 'c', actor: 't' },
});

/**
 * A commit notification names the kinds of streams written: a subscription to other streams is
 * not woken by it (a busy MTA's commits are nearly all messages; its DMARC, blocklist and inbound
 * readers used to read the log after each of them).
 */
describe('PostgreSQL subscriptions: woken only by commits of their streams', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let listener: pg.Client;
  const payloads: string[] = [];
  before(async () => {
    db = await createTestDatabase();
    // no polling in the test's time: only a notification can wake a reader
    store = new PostgresEventStore({
      pool: db.pool,
      connectionString: db.url,
      logger: testLogger,
      pollIntervalMs: 60_000,
    });
    listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    listener.on('notification', (n) => payloads.push(n.payload ?? ''));
    await listener.query('LISTEN postlog_events');
  });
  after(async () => {
    await listener.end();
    await store.close();
    await db.drop();
  });

  it('names the kinds of the streams each append wrote, on the short way and the general one', async () => {
    payloads.length = 0;
    assert.ok((await store.append('rare-1', [event(1)], 'no_stream')).ok); // a new stream: the short way
    assert.ok((await store.append('rare-1', [event(2)], 0)).ok); // an exact revision: the general way
    assert.ok((await store.append('plain', [event(3)], 'no_stream')).ok); // a stream id without "-"
    while (payloads.length < 3) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(payloads, ['rare-', 'rare-', 'plain']);
  });

  it('a reader of rare- streams sleeps through commits of common- streams and wakes for its own', async () => {
    const batches: RecordedEvent[][] = [];
    let reads = 0;
    const readAll = store.readAll.bind(store);
    store.readAll = (...args) => {
      reads++;
      return readAll(...args);
    };
    const sub = store.subscribeAll({ from: 'end', filter: { streamPrefixes: ['rare-'] } }, async (events) => {
      batches.push(events);
    });
    try {
      await new Promise((r) => setTimeout(r, 300)); // subscribed, read once, asleep
      const asleep = reads;
      for (let n = 0; n < 5; n++) assert.ok((await store.append(`common-${n}`, [event(n)], 'no_stream')).ok);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(reads, asleep, 'commits of common- streams woke the reader of rare- streams');
      const t0 = performance.now();
      assert.ok((await store.append('rare-2', [event(9)], 'no_stream')).ok);
      while (batches.length === 0) {
        assert.ok(performance.now() - t0 < 5000, 'the commit of a rare- stream did not wake its reader');
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.deepEqual(
        batches.flat().map((e) => e.streamId),
        ['rare-2'],
      );
    } finally {
      await sub.stop();
      store.readAll = readAll;
    }
  });
});
