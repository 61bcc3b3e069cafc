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
  const enqueue = async (count: number, dueSeconds: number | null = -60, extra: { owner?: string; leaseSeconds?: number } = {}) => {
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

  it('takes over a lease that ran out (its worker died), in due order with the free ones', async () => {
    const first = await enqueue(1, -120);
    const expired = await enqueue(2, -90, { owner: 'dead-worker', leaseSeconds: -5 });
    const live = await enqueue(2, -80, { owner: 'live-worker', leaseSeconds: 600 });
    const last = await enqueue(1, -60);
    const b = new DeliveryQueue(pool, 'worker-b');
    const leased = await b.lease(10, 600);
    assert.deepEqual(ids(leased), [...first, ...expired, ...last]);
    assert.ok(!ids(leased).some((id) => live.includes(id)));
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM delivery_queue WHERE lease_owner = 'worker-b' AND lease_until > now() + interval '500 seconds'");
    assert.equal(rows[0]!.n, 4, 'each taken row carries the new lease');
    assert.deepEqual(ids(await b.lease(1, 600)), [], 'the limit counts the expired ones too');
  });

  it('a deferral (lease cleared by the projection) and a release make a row free again', async () => {
    const [one, two] = await enqueue(2);
    const a = new DeliveryQueue(pool, 'worker-a');
    assert.equal((await a.lease(2, 600)).length, 2);
    await pool.query('UPDATE delivery_queue SET lease_owner = NULL, lease_until = NULL WHERE message_id = $1', [one]);
    await a.release(two!);
    assert.deepEqual(ids(await new DeliveryQueue(pool, 'worker-b').lease(10, 600)).sort(), [one, two].sort());
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

  it('does not read the rows other leases hold (500 in flight, 10,000 waiting to retry)', async () => {
    await enqueue(10_000, 3600);
    await enqueue(500);
    assert.equal((await new DeliveryQueue(pool, 'busy-worker').lease(500, 600)).length, 500);
    await enqueue(50);
    // the plan the lease ran (auto_explain, inside the function), then undone
    const client = await pool.connect();
    const plans: string[] = [];
    const onNotice = (n: { message?: string }) => plans.push(n.message ?? '');
    client.on('notice', onNotice);
    try {
      for (const setting of ["LOAD 'auto_explain'", 'SET auto_explain.log_min_duration = 0', 'SET auto_explain.log_nested_statements = on', 'SET auto_explain.log_analyze = on', 'SET client_min_messages = log']) {
        await client.query(setting);
      }
      await client.query('BEGIN');
      assert.equal((await new DeliveryQueue(client as unknown as pg.Pool, 'other-worker').lease(10, 600)).length, 10);
    } finally {
      await client.query('ROLLBACK');
      client.removeListener('notice', onNotice);
      client.release(true); // not back to the pool with auto_explain on
    }
    const plan = plans.find((p) => p.includes('UPDATE delivery_queue q')) ?? '';
    assert.match(plan, /Index Scan using delivery_queue_ready/, plans.join('\n'));
    const read = [...plan.matchAll(/Rows Removed by Filter: (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    const scanned = [...plan.matchAll(/Index Scan using delivery_queue_\w+ on delivery_queue \w+ .*?rows=(\d+) loops=1/g)].map((m) => Number(m[1]));
    assert.ok(read < 10 && scanned.every((rows) => rows <= 10), `one lease of 10 read more than it took:\n${plan}`);
    assert.equal((await new DeliveryQueue(pool, 'other-worker').lease(10, 600)).length, 10);
  });
});
