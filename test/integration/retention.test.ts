import { projectionLagSeconds } from '../../projections/maintenance.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { ContentStore } from '../../infra/content/index.js';
import { PostgresEventStore, type EventStore } from '../../infra/event-store/index.js';
import { deliveryQueueProjection } from '../../projections/delivery-queue/delivery-queue-projection.js';
import { messageReadModels } from '../../projections/read-models/message-read-models.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { deleteUnneeded } from '../../infra/content/index.js';
import { runRetention } from '../../write-side/retention/retention-job.js';
import { inTransaction } from '../../infra/postgres/index.js';
import { RouteStore } from '../../infra/routes/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';
import { catchUp, run } from '../helpers/projections.js';

const SERVER = '11111111-1111-4111-8111-111111111111';
const at = (minute: number) => `2026-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
const sha = (body: string) => createHash('sha256').update(body).digest('hex');
const daysAhead = (days: number) => new Date(Date.now() + days * 86_400_000);

/** A database with one server keeping content 7 days, and an event store on it. */
async function setUp(): Promise<{ db: TestDatabase; store: EventStore; done: () => Promise<void> }> {
  const db = await createTestDatabase();
  const store = new PostgresEventStore({
    pool: db.pool,
    connectionString: db.url,
    logger: testLogger,
    pollIntervalMs: 50,
  });
  await db.pool.query(`INSERT INTO organizations (id, name) VALUES ('22222222-2222-4222-8222-222222222222', 'o')`);
  await db.pool.query(
    `INSERT INTO servers (id, organization_id, name, mode, retention_days) VALUES ($1, '22222222-2222-4222-8222-222222222222', 's', 'live', 7)`,
    [SERVER],
  );
  return {
    db,
    store,
    done: async () => {
      await store.close();
      await db.drop();
    },
  };
}

/** A body stored as if written `age` ago (SQL interval). */
async function storeBody(db: TestDatabase, body: string, age: string): Promise<string> {
  await db.pool.query(
    `INSERT INTO contents (sha256, body, size, created_at) VALUES ($1, $2, $3, now() - $4::interval)`,
    [sha(body), Buffer.from(body), body.length, age],
  );
  return sha(body);
}

async function accept(store: EventStore, id: string, contentHash: string) {
  const res = await handleMessageCommand(store, id, {
    type: 'Accept',
    message: {
      messageId: id,
      serverId: SERVER,
      batchId: 'b',
      rfcMessageId: `${id}@x`,
      token: 'AbCdEfGh12345678',
      from: 'a@sender.test',
      to: `${id}@example.org`,
      subject: `Subject ${id}`,
      contentHash,
      size: 100,
      source: 'api',
    },
    at: at(0),
  });
  assert.ok(res.ok, JSON.stringify(res));
}

const deliver = (store: EventStore, id: string) =>
  run(store, id, {
    type: 'RecordDelivery',
    delivery: { attempt: 1, mxHost: 'mx.example.org', reply: { code: 250, text: 'OK' }, durationMs: 5, at: at(1) },
    at: at(1),
  });

async function project(db: TestDatabase, store: EventStore) {
  await catchUp(db, store, messageReadModels);
  await catchUp(db, store, deliveryQueueProjection);
}

const stored = async (db: TestDatabase) =>
  (await db.pool.query<{ sha256: string }>('SELECT sha256 FROM contents ORDER BY sha256')).rows.map((r) => r.sha256);

describe("retention: content goes after the server's retention period, the history stays", () => {
  it('expires delivered messages, keeps the content a queued message still uses, deletes it once nobody needs it', async () => {
    const { db, store, done } = await setUp();
    try {
      const shared = await storeBody(db, 'raw', '30 days');
      await accept(store, '10', shared);
      await deliver(store, '10');
      await accept(store, '11', shared);
      await project(db, store);
      const later = daysAhead(8);
      const deps = {
        pool: db.pool,
        eventStore: store,
        logger: testLogger,
        projectionLagSeconds: projectionLagSeconds(db.pool, store),
      };
      const first = await runRetention(deps, later);
      assert.deepEqual(
        [first.expired, first.complete],
        [1, true],
        'the delivered message; the queued one keeps its content',
      );
      const history = (await store.readStream('message-10')).map((e) => e.type);
      assert.deepEqual(history.slice(-1), ['MessageContentExpired']);
      await project(db, store);
      // the next run: message 11 still uses the same bytes, so they stay
      assert.equal((await runRetention(deps, new Date(later.getTime() + 3_600_000))).contentsDeleted, 0);
      assert.deepEqual(await stored(db), [shared]);
      await run(store, '11', { type: 'Cancel', at: at(2) });
      await project(db, store);
      assert.equal((await runRetention(deps, new Date(later.getTime() + 7_200_000))).expired, 1);
      await project(db, store);
      const last = await runRetention(deps, new Date(later.getTime() + 3 * 3_600_000));
      assert.equal(last.contentsDeleted, 1);
      assert.deepEqual(await stored(db), []);
      assert.equal(
        (await db.pool.query('SELECT count(*)::int AS n FROM content_release_candidates')).rows[0].n,
        0,
        'no candidate left behind',
      );
      assert.equal((await store.readStream('message-10')).length, history.length, 'the events stay');
    } finally {
      await done();
    }
  });

  it('works through more messages than one batch in one run, although the read model learns of each expiry only later', async () => {
    const { db, store, done } = await setUp();
    try {
      const ids = ['20', '21', '22', '23', '24'];
      for (const id of ids) {
        await accept(store, id, await storeBody(db, `body ${id}`, '30 days'));
        await deliver(store, id);
      }
      await project(db, store);
      const deps = {
        pool: db.pool,
        eventStore: store,
        logger: testLogger,
        projectionLagSeconds: projectionLagSeconds(db.pool, store),
      };
      const later = daysAhead(8);
      const first = await runRetention(deps, later, { batchSize: 2 });
      assert.deepEqual([first.expired, first.complete], [5, true]);
      await project(db, store);
      const second = await runRetention(deps, new Date(later.getTime() + 3_600_000), { batchSize: 2 });
      assert.deepEqual([second.expired, second.contentsDeleted], [0, 5]);
      assert.deepEqual(await stored(db), []);
    } finally {
      await done();
    }
  });

  it('deletes a body no message ever used once it is a day old, and looks at each body once', async () => {
    const { db, store, done } = await setUp();
    try {
      const orphan = await storeBody(db, 'orphan', '2 days');
      const used = await storeBody(db, 'used', '2 days');
      const recent = await storeBody(db, 'recent orphan', '10 minutes');
      await accept(store, '30', used);
      await project(db, store);
      const deps = {
        pool: db.pool,
        eventStore: store,
        logger: testLogger,
        projectionLagSeconds: projectionLagSeconds(db.pool, store),
      };
      // even at a later date: a body written ten minutes ago (by the wall clock) stays
      const result = await runRetention(deps, daysAhead(1));
      assert.equal(result.contentsDeleted, 1);
      assert.deepEqual(await stored(db), [recent, used].sort());
      const mark = (await db.pool.query('SELECT sha256 FROM retention_progress WHERE name = $1', ['orphan-sweep']))
        .rows[0];
      assert.equal(mark.sha256, used, 'the sweep remembers how far it came: the last body it looked at');
      assert.ok(!(await stored(db)).includes(orphan));
    } finally {
      await done();
    }
  });

  it('keeps an old body written again for a new message the read models have not seen yet', async () => {
    const { db, store, done } = await setUp();
    try {
      const body = 'Subject: the same bytes again\r\n\r\nhello\r\n';
      const hash = await storeBody(db, body, '30 days');
      await accept(store, '40', hash);
      await deliver(store, '40');
      await project(db, store);
      const deps = {
        pool: db.pool,
        eventStore: store,
        logger: testLogger,
        projectionLagSeconds: projectionLagSeconds(db.pool, store),
      };
      const later = daysAhead(8);
      assert.equal((await runRetention(deps, later)).expired, 1);
      await project(db, store);
      // the same bytes are submitted again: the write moves "last written" to now ...
      assert.equal(await new ContentStore(db.pool).put(Buffer.from(body)), hash);
      const { rows } = await db.pool.query(
        `SELECT created_at > now() - interval '1 minute' AS fresh FROM contents WHERE sha256 = $1`,
        [hash],
      );
      assert.equal(rows[0].fresh, true);
      // ... and the new message's events are in the log, but no projection has applied them
      await accept(store, '41', hash);
      assert.equal((await runRetention(deps, new Date(later.getTime() + 3_600_000))).contentsDeleted, 0);
      assert.deepEqual(await stored(db), [hash]);
    } finally {
      await done();
    }
  });

  it('deletes nothing written after the oldest event a read model has not applied (a stalled projection)', async () => {
    const { db, store, done } = await setUp();
    try {
      const orphan = await storeBody(db, 'orphan while stalled', '2 days');
      await accept(store, '50', await storeBody(db, 'other', '2 days'));
      // the read models stopped three days ago: the event waits since then
      await db.pool.query("UPDATE events SET recorded_at = now() - interval '3 days'");
      const deps = {
        pool: db.pool,
        eventStore: store,
        logger: testLogger,
        projectionLagSeconds: projectionLagSeconds(db.pool, store),
      };
      assert.equal((await runRetention(deps, daysAhead(1))).contentsDeleted, 0);
      assert.ok((await stored(db)).includes(orphan));
      await project(db, store);
      assert.equal((await runRetention(deps, daysAhead(1))).contentsDeleted, 1, 'caught up: the orphan goes');
    } finally {
      await done();
    }
  });

  it('deleting old bodies while the same bodies are written again does not deadlock, and keeps what was written again', async () => {
    const { db, done } = await setUp();
    try {
      // stored in the reverse of hash order, so reading them in storage order crosses the writer's order
      const hashes = Array.from({ length: 40 }, (_, i) => String(i).padStart(64, '0')).reverse();
      const bodies = hashes.map((h) => Buffer.alloc(2000, h));
      for (const [i, h] of hashes.entries())
        await db.pool.query('INSERT INTO contents (sha256, body, size) VALUES ($1, $2, 2000)', [h, bodies[i]]);
      const [a, b] = [db.newPool(2), db.newPool(2)];
      try {
        const failures: string[] = [];
        for (let round = 0; round < 30; round++) {
          await db.pool.query("UPDATE contents SET created_at = now() - interval '2 days'");
          const results = await Promise.allSettled([
            inTransaction(a, (client) => deleteUnneeded(client, hashes, new Date(Date.now() - 86_400_000))),
            b.query('SELECT postlog_put_contents($1::text[], $2::bytea[])', [hashes, bodies]),
          ]);
          for (const r of results) if (r.status === 'rejected') failures.push((r.reason as Error).message);
          // whatever the order, a body written again in this round is there
          assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM contents')).rows[0].n, hashes.length);
        }
        assert.deepEqual(failures, []);
      } finally {
        await a.end();
        await b.end();
      }
    } finally {
      await done();
    }
  });

  it('keeps the body of inbound mail an HTTP route has still to take, and deletes it a day after the route is done with it', async () => {
    const { db, store, done } = await setUp();
    try {
      const body = await storeBody(db, 'Subject: for the support desk\r\n\r\nhello\r\n', '2 days');
      await db.pool.query(
        `INSERT INTO routes (id, server_id, address, endpoint_url, format) VALUES ('33333333-3333-4333-8333-333333333333', $1, 'support@sender.test', 'http://127.0.0.1:9/', 'json')`,
        [SERVER],
      );
      const routes = new RouteStore(db.pool);
      const delivery = await routes.enqueue(
        '33333333-3333-4333-8333-333333333333',
        body,
        'someone@example.org',
        'support@sender.test',
      );
      const deps = {
        pool: db.pool,
        eventStore: store,
        logger: testLogger,
        projectionLagSeconds: projectionLagSeconds(db.pool, store),
      };
      // the endpoint keeps failing: the body stays while the delivery is pending, and the sweep goes past it
      assert.equal((await runRetention(deps, daysAhead(1))).contentsDeleted, 0);
      assert.deepEqual(await stored(db), [body]);
      await routes.settle(delivery, { status: 'failed', code: 503, response: 'down' });
      // a day to retry it by hand, then it goes
      assert.equal((await runRetention(deps, new Date(Date.now() + 3_600_000))).contentsDeleted, 0);
      assert.equal((await runRetention(deps, daysAhead(2))).contentsDeleted, 1);
      assert.deepEqual(await stored(db), []);
    } finally {
      await done();
    }
  });
});
