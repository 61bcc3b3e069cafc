import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresEventStore, START, type EventStore } from '../../infra/event-store/index.js';
import { LAG_COUNT_LIMIT, projectionStatus } from '../../projections/maintenance.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';

/*
 * `postlog projections status` and the lag gauges with a log that is not the Postgres events table
 * (EventStoreDB): lag is counted through the port. Checked here against the SQL answer, with the
 * Postgres store seen only through the port (a plain object, so the SQL shortcut does not apply).
 */
describe('projection status through the event-store port', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let viaPort: EventStore;

  before(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ pool: db.pool, connectionString: db.url, logger: testLogger });
    viaPort = {
      append: (...a) => store.append(...a),
      appendMany: (...a) => store.appendMany(...a),
      readStream: (...a) => store.readStream(...a),
      readStreams: (...a) => store.readStreams(...a),
      streamRevisions: (...a) => store.streamRevisions(...a),
      readAll: (...a) => store.readAll(...a),
      subscribeAll: (...a) => store.subscribeAll(...a),
      headCheckpoint: () => store.headCheckpoint(),
      healthy: () => store.healthy(),
      close: () => store.close(),
    };
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('counts the events after each checkpoint, as the SQL path subtracts them', async () => {
    for (let i = 0; i < 12; i++)
      assert.ok(
        (
          await store.append(
            `message-status-${i}`,
            [
              { type: 'MessageQueued', data: { i } },
              { type: 'MessageDelivered', data: { i } },
            ],
            'no_stream',
          )
        ).ok,
      );
    const all = (await store.readAll(START, 100)).events.filter((e) => e.streamId.startsWith('message-status-'));
    const at = all[9]!;
    await db.pool.query(
      `INSERT INTO projection_checkpoints (name, version, checkpoint, position) VALUES ('behind', 1, $1, $2), ('current', 1, $3, $4)`,
      [at.checkpoint, at.position, all[all.length - 1]!.checkpoint, all[all.length - 1]!.position],
    );
    const names = ['behind', 'current', 'never-ran'];
    const bySql = await projectionStatus(db.pool, names, store);
    const byPort = await projectionStatus(db.pool, names, viaPort);
    assert.deepEqual(
      byPort.map((s) => s.lagEvents),
      bySql.map((s) => s.lagEvents),
    );
    assert.equal(byPort[0]!.lagEvents, all.length - 10);
    assert.equal(byPort[1]!.lagEvents, 0);
    assert.equal(byPort[0]!.headPosition, all[all.length - 1]!.position);
    assert.ok(byPort[0]!.lagSeconds >= 0 && byPort[0]!.lagSeconds < 60);
    assert.equal(byPort[1]!.lagSeconds, 0);
  });

  it("counts only the streams a projection takes: other streams' events are not lag", async () => {
    // the inbound endpoint queue takes incoming- streams: without inbound mail its checkpoint stays
    // at the start while outgoing messages fill the log (the soak bench saw it "lag" by all of them)
    const filters = { 'incoming-only': { streamPrefixes: ['incoming-status-'] } };
    const quiet = await projectionStatus(db.pool, ['incoming-only'], store, filters);
    assert.deepEqual([quiet[0]!.lagEvents, quiet[0]!.lagSeconds], [0, 0]);
    assert.ok((await store.append('incoming-status-1', [{ type: 'IncomingReceived', data: {} }], 'no_stream')).ok);
    const bySql = await projectionStatus(db.pool, ['incoming-only'], store, filters);
    const byPort = await projectionStatus(db.pool, ['incoming-only'], viaPort, filters);
    assert.equal(bySql[0]!.lagEvents, 1);
    assert.equal(byPort[0]!.lagEvents, 1);
    assert.ok(bySql[0]!.lagSeconds >= 0 && bySql[0]!.lagSeconds < 60);
  });

  it('caps the count, and then does not claim to know the head', async () => {
    const events = Array.from({ length: LAG_COUNT_LIMIT + 5 }, (_, i) => ({ type: 'MessageOpened', data: { i } }));
    assert.ok((await store.append('message-status-many', events, 'no_stream')).ok);
    const [s] = await projectionStatus(db.pool, ['never-ran'], viaPort);
    assert.equal(s!.lagEvents, LAG_COUNT_LIMIT);
    assert.equal(s!.headPosition, null);
  });
});

describe('projection status in PostgreSQL: lag in the order subscribers read', () => {
  it('counts an event a later transaction wrote with a lower position than the checkpoint', async () => {
    const db = await createTestDatabase();
    const [a, b] = [await db.pool.connect(), await db.pool.connect()];
    try {
      const insert = (c: typeof a, stream: string) =>
        c.query<{ position: string; txid: string }>(
          `INSERT INTO events (event_id, stream_id, revision, type, schema_version, data, metadata)
           VALUES (gen_random_uuid(), $1, 0, 'Test', 1, '{}', '{}') RETURNING position::text, transaction_id::text AS txid`,
          [stream],
        );
      // a's transaction starts writing first, b's takes the lower position, a commits first
      await a.query('BEGIN');
      await a.query('SELECT pg_current_xact_id()');
      await b.query('BEGIN');
      await b.query('SELECT pg_current_xact_id()');
      const lower = (await insert(b, 'order-b')).rows[0]!;
      const higher = (await insert(a, 'order-a')).rows[0]!;
      assert.ok(BigInt(lower.position) < BigInt(higher.position) && BigInt(lower.txid) > BigInt(higher.txid));
      await a.query('COMMIT');
      // a projection has applied a's event, the only one readable then
      await db.pool.query(
        'INSERT INTO projection_checkpoints (name, version, checkpoint, position) VALUES ($1, 1, $2, $3)',
        ['lag-test', `${higher.txid}:${higher.position}`, higher.position],
      );
      await b.query('COMMIT');
      await new Promise((r) => setTimeout(r, 50));
      const [status] = await projectionStatus(db.pool, ['lag-test']);
      assert.ok(status!.lagSeconds >= 0.04, `b's event waits: ${JSON.stringify(status)}`);
    } finally {
      a.release();
      b.release();
      await db.drop();
    }
  });
});
