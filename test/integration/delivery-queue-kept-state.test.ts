import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { messageStreamId } from '../../domain/index.js';
import { PostgresEventStore } from '../../infra/event-store/index.js';
import { DeliveryQueue } from '../../mta/queue/delivery-queue.js';
import { deliveryQueueProjection } from '../../projections/delivery-queue/delivery-queue-projection.js';
import { handleMessageCommand, loadMessage, loadMessagesKept } from '../../write-side/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';
import { acceptCommand } from '../helpers/message-commands.js';
import { catchUp, run } from '../helpers/projections.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const SERVER = randomUUID();
/** Accepted (and queued) for SERVER: the queue's server_id is a uuid. */
const accept = (id: string) => {
  const command = acceptCommand(id, at(0));
  return { ...command, message: { ...command.message, serverId: SERVER } };
};

/**
 * The delivery queue keeps each message's state as its projection folded it (migration 47), and
 * the MTA uses it instead of reading the stream back only while the stream has not moved since.
 */
describe('the state the delivery queue keeps for the MTA', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  before(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ pool: db.pool, connectionString: db.url, logger: testLogger });
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it("is the stream's own fold, at its revision, for a message accepted and queued", async () => {
    await run(store, '101', accept('101'));
    await run(store, '102', accept('102'));
    await catchUp(db, store, deliveryQueueProjection);
    const leased = await new DeliveryQueue(db.pool, 'worker-a').lease(10, 600);
    assert.deepEqual(leased.map((m) => m.messageId).sort(), ['101', '102']);
    for (const m of leased) {
      const read = await loadMessage(store, m.messageId);
      assert.ok(read.ok && m.kept, `${m.messageId} has a kept state`);
      assert.deepEqual(m.kept.state, read.value.state);
      assert.equal(m.kept.revision, read.value.revision);
    }
  });

  it('is not used once the stream moved past it (a hold the projection has not seen)', async () => {
    await run(store, '201', accept('201'));
    await run(store, '202', accept('202'));
    await catchUp(db, store, deliveryQueueProjection);
    const leased = await new DeliveryQueue(db.pool, 'worker-b').lease(10, 600);
    assert.deepEqual(leased.map((m) => m.messageId).sort(), ['201', '202']);
    await run(store, '201', { type: 'Hold', reason: 'manual', at: at(1) });
    const loaded = await loadMessagesKept(store, leased);
    const held = loaded.get('201');
    const kept = loaded.get('202');
    assert.ok(held?.ok && kept?.ok);
    assert.equal(held.value.state.status, 'held', 'read from the stream, not the kept state');
    assert.equal(
      held.value.revision,
      (await store.streamRevisions([messageStreamId('201')])).get(messageStreamId('201')),
    );
    assert.equal(kept.value.state.status, leased.find((m) => m.messageId === '202')!.kept!.state.status);
  });

  it('goes when the projection changes the row (a deferral), and the stream is read instead', async () => {
    await run(store, '301', accept('301'));
    await catchUp(db, store, deliveryQueueProjection);
    const [first] = await new DeliveryQueue(db.pool, 'worker-c').lease(1, 600);
    assert.ok(first?.kept);
    const deferred = await handleMessageCommand(
      store,
      '301',
      {
        type: 'RecordDeferral',
        delivery: {
          attempt: 1,
          mxHost: 'mx.example.org',
          reply: { code: 451, text: 'later' },
          durationMs: 5,
          at: at(2),
        },
        reason: '451 later',
        nextAttemptAt: at(3),
        at: at(2),
      },
      {},
      5,
      { state: first.kept.state, revision: first.kept.revision },
    );
    assert.ok(deferred.ok, JSON.stringify(deferred));
    await catchUp(db, store, deliveryQueueProjection);
    const { rows } = await db.pool.query<{ state: unknown; revision: string | null }>(
      "SELECT state, revision FROM delivery_queue WHERE message_id = '301'",
    );
    assert.deepEqual(rows, [{ state: null, revision: null }]);
    const loaded = (await loadMessagesKept(store, [{ messageId: '301' }])).get('301');
    assert.ok(loaded?.ok);
    assert.equal(loaded.value.state.status, 'deferred');
    assert.equal(loaded.value.state.attempts, 1);
  });
});
