import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresEventStore, type RecordedEvent } from '../../infra/event-store/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';

/** A subscriber that has caught up gathers the commits of the next moment into one batch. */
describe('PostgreSQL subscriptions: linger after catching up', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  before(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({
      pool: db.pool,
      connectionString: db.url,
      logger: testLogger,
      subscriptionLingerMs: 1000,
    });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  const append = async (n: number) => {
    const r = await store.append(
      `linger-${n}`,
      [{ type: 'Noted', schemaVersion: 1, data: { n }, metadata: { correlationId: 'c', actor: 't' } }],
      'no_stream',
    );
    assert.ok(r.ok);
  };

  it('reads the first commit after a quiet spell at once, the five that follow within the linger as one batch, and stops without waiting it out', async () => {
    const batches: { at: number; events: RecordedEvent[] }[] = [];
    const sub = store.subscribeAll({ from: 'end' }, async (events) => {
      batches.push({ at: performance.now(), events });
    });
    await new Promise((r) => setTimeout(r, 300)); // subscribed and idle
    const first = performance.now();
    await append(0);
    while (batches.length < 1) await new Promise((r) => setTimeout(r, 5));
    assert.equal(batches[0]!.events.length, 1);
    assert.ok(
      batches[0]!.at - first < 500,
      `the first commit was read after ${Math.round(batches[0]!.at - first)} ms, not at once`,
    );
    for (let n = 1; n <= 5; n++) await append(n); // five commits, each with its own notification
    while (batches.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      batches[1]!.events.map((e) => (e.data as { n: number }).n),
      [1, 2, 3, 4, 5],
    );
    assert.ok(batches[1]!.at - batches[0]!.at >= 900, 'the second batch waited for the linger');
    // now lingering again: stop() ends the wait
    const stopping = performance.now();
    await sub.stop();
    assert.ok(performance.now() - stopping < 500, `stop() took ${Math.round(performance.now() - stopping)} ms`);
  });
});
