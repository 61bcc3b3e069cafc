import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import type pg from 'pg';
import { DeliveryQueue } from '../../mta/queue/delivery-queue.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

/**
 * The MTA workers' leases on the delivery queue (a projection table: rows are written here
 * directly). What a lease takes, and that it does not read the rows other leases hold.
 */
describe('delivery queue leases', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  before(async () => {
    db = await createTestDatabase();
    pool = db.newPool(8);
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });
  beforeEach(async () => {
    await pool.query('DELETE FROM delivery_queue');
  });

  let next = 1;
  /** Queue rows due `dueSeconds` from now (null: held); returns their ids in order. */
  const enqueue = async (
    count: number,
    dueSeconds: number | null = -60,
    extra: { owner?: string; leaseSeconds?: number } = {},
  ) => {
    const ids = Array.from({ length: count }, () => next++);
    await pool.query(
      `INSERT INTO delivery_queue (message_id, server_id, mail_from, rcpt_to, recipient_domain, content_hash, token, accepted_at, due_at, lease_owner, lease_until)
       SELECT id, $2, 'a@sender.test', 'b@example.org', 'example.org', 'hash', 'token', now(),
              CASE WHEN $3::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $3::float8 + i * 0.001) END,
              $4::text, CASE WHEN $5::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $5::float8) END
         FROM unnest($1::bigint[]) WITH ORDINALITY AS u(id, i)`,
      [ids, randomUUID(), dueSeconds, extra.owner ?? null, extra.leaseSeconds ?? null],
    );
    return ids.map(String);
  };
  const ids = (leased: { messageId: string }[]) => leased.map((m) => m.messageId);

  it('takes due messages oldest first, up to the limit, and each only once', async () => {
    const due = await enqueue(5);
    const a = new DeliveryQueue(pool, 'worker-a');
    assert.deepEqual(ids(await a.lease(3, 600)), due.slice(0, 3));
    assert.deepEqual(ids(await a.lease(10, 600)), due.slice(3));
    assert.deepEqual(await new DeliveryQueue(pool, 'worker-b').lease(10, 600), [], 'leased rows are not leased again');
  });

  it('leaves held messages, messages not yet due and released ones inside their delay', async () => {
    await enqueue(2, null);
    await enqueue(2, 3600);
    await enqueue(2, -60, { leaseSeconds: 3600 }); // released with a delay: no owner, "not before" in lease_until
    const due = await enqueue(1);
    assert.deepEqual(ids(await new DeliveryQueue(pool, 'worker-a').lease(10, 600)), due);
  });

  it('takes over leases that ran out (their worker died) first, then free messages', async () => {
    const first = await enqueue(1, -120);
    const expired = await enqueue(2, -90, { owner: 'dead-worker', leaseSeconds: -5 });
    const live = await enqueue(2, -80, { owner: 'live-worker', leaseSeconds: 600 });
    const last = await enqueue(1, -60);
    const b = new DeliveryQueue(pool, 'worker-b');
    const leased = await b.lease(10, 600);
    assert.deepEqual(ids(leased), [...expired, ...first, ...last]);
    assert.ok(!ids(leased).some((id) => live.includes(id)));
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM delivery_queue WHERE lease_owner = 'worker-b' AND lease_until > now() + interval '500 seconds'",
    );
    assert.equal(rows[0]!.n, 4, 'each taken row carries the new lease');
    assert.deepEqual(ids(await b.lease(1, 600)), [], 'nothing is left');
  });

  it('counts the expired leases it took against the limit', async () => {
    const expired = await enqueue(3, -90, { owner: 'dead-worker', leaseSeconds: -5 });
    const free = await enqueue(3, -60);
    assert.deepEqual(ids(await new DeliveryQueue(pool, 'worker-b').lease(4, 600)), [...expired, free[0]]);
  });

  it('a deferral (lease cleared by the projection) and a release make a row free again', async () => {
    const [one, two] = await enqueue(2);
    const a = new DeliveryQueue(pool, 'worker-a');
    assert.equal((await a.lease(2, 600)).length, 2);
    await pool.query('UPDATE delivery_queue SET lease_owner = NULL, lease_until = NULL WHERE message_id = $1', [one]);
    await a.release(two!);
    assert.deepEqual(ids(await new DeliveryQueue(pool, 'worker-b').lease(10, 600)).sort(), [one, two].sort());
  });

  it('of the leases that ran out, takes the oldest due first', async () => {
    const [laterDue] = await enqueue(1, -100, { owner: 'dead-worker', leaseSeconds: -50 });
    const [earlierDue] = await enqueue(1, -200, { owner: 'dead-worker', leaseSeconds: -1 });
    assert.deepEqual(ids(await new DeliveryQueue(pool, 'worker-b').lease(1, 600)), [earlierDue]);
    assert.deepEqual(ids(await new DeliveryQueue(pool, 'worker-b').lease(1, 600)), [laterDue]);
  });

  it('locks only the rows it takes: a lease running beside it still finds the free ones', async () => {
    await enqueue(10, -90, { owner: 'dead-worker', leaseSeconds: -5 });
    const free = await enqueue(10, -60);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      assert.equal((await new DeliveryQueue(client as unknown as pg.Pool, 'worker-a').lease(10, 600)).length, 10);
      // worker-a's transaction is still open: its rows are locked, nothing else is
      assert.deepEqual(ids(await new DeliveryQueue(pool, 'worker-b').lease(10, 600)), free);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('refuses a lease without a deadline (it could never be taken again)', async () => {
    const [id] = await enqueue(1);
    await assert.rejects(
      pool.query("UPDATE delivery_queue SET lease_owner = 'w', lease_until = NULL WHERE message_id = $1", [id]),
      /delivery_queue_lease_has_deadline/,
    );
  });

  it('concurrent leases share out the due messages without overlap', async () => {
    const due = await enqueue(400);
    const workers = Array.from({ length: 8 }, (_, i) => new DeliveryQueue(pool, `worker-${i}`));
    const taken: string[] = [];
    for (let round = 0; round < 10 && taken.length < due.length; round++) {
      const results = await Promise.all(workers.map((w) => w.lease(25, 600)));
      results.forEach((r) => taken.push(...ids(r)));
    }
    assert.equal(new Set(taken).size, taken.length, 'no message leased twice');
    assert.deepEqual([...taken].sort(), [...due].sort());
  });

  it('reads only the rows it takes: not those other leases hold, nor those waiting to retry or released with a delay', async () => {
    await enqueue(10_000, 3600);
    await enqueue(5_000, -60, { leaseSeconds: 300 }); // released with a delay (a suspended server's messages)
    await enqueue(500);
    assert.equal((await new DeliveryQueue(pool, 'busy-worker').lease(500, 600)).length, 500);
    await enqueue(50);
    // the plans the lease ran (auto_explain, inside the function), then undone
    const client = await pool.connect();
    const plans: string[] = [];
    const onNotice = (n: { message?: string }) => plans.push(n.message ?? '');
    client.on('notice', onNotice);
    try {
      for (const setting of [
        "LOAD 'auto_explain'",
        'SET auto_explain.log_min_duration = 0',
        'SET auto_explain.log_nested_statements = on',
        'SET auto_explain.log_analyze = on',
        'SET client_min_messages = log',
      ]) {
        await client.query(setting);
      }
      await client.query('BEGIN');
      assert.equal((await new DeliveryQueue(client as unknown as pg.Pool, 'other-worker').lease(10, 600)).length, 10);
    } finally {
      await client.query('ROLLBACK');
      client.removeListener('notice', onNotice);
      client.release(true); // not back to the pool with auto_explain on
    }
    const leases = plans.filter((p) => p.includes('UPDATE delivery_queue q')).join('\n');
    const removed = [...leases.matchAll(/Rows Removed by Filter: (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    const scans = [
      ...leases.matchAll(/Index Scan using (\w+) on delivery_queue(?: \w+)?\s+\(.*?rows=(\d+)(?:\.\d+)? loops=/g),
    ].map((m) => ({ index: m[1]!, rows: Number(m[2]) }));
    assert.ok(
      scans.some((s) => s.index === 'delivery_queue_waiting') && scans.some((s) => s.index === 'delivery_queue_free'),
      `both halves read their index:\n${leases}`,
    );
    assert.ok(removed < 10 && scans.every((s) => s.rows <= 10), `one lease of 10 read more than it took:\n${leases}`);
  });
});
