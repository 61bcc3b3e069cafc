import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { PostgresEventStore } from '../../infra/event-store/index.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';
import { acceptCommand, deliveredAttempt } from '../helpers/message-commands.js';

const at = () => new Date().toISOString();
const accept = (messageId: string) => acceptCommand(messageId, at());
const delivery = deliveredAttempt(at());

describe('message command handler on the Postgres log', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  let other: PostgresEventStore;
  before(async () => {
    db = await createTestDatabase();
    store = new PostgresEventStore({ pool: db.pool, connectionString: db.url, logger: testLogger });
    other = new PostgresEventStore({ pool: db.newPool(), connectionString: db.url, logger: testLogger });
  });
  after(async () => {
    await store.close();
    await other.close();
    await db.drop();
  });

  it('Accept appends Accepted + Queued with the metadata', async () => {
    const id = randomUUID();
    const res = await handleMessageCommand(store, id, accept(id), { correlationId: 'req-1', serverId: 'srv-1' });
    assert.ok(res.ok);
    assert.equal(res.value.state.status, 'queued');
    const events = await store.readStream(`message-${id}`);
    assert.deepEqual(
      events.map((e) => e.type),
      ['MessageAccepted', 'MessageQueued'],
    );
    assert.equal(events[0]!.metadata.correlationId, 'req-1');
    assert.equal(events[0]!.schemaVersion, 1);
  });

  it('a refused command appends nothing', async () => {
    const id = randomUUID();
    assert.ok((await handleMessageCommand(store, id, accept(id))).ok);
    const twice = await handleMessageCommand(store, id, accept(id));
    assert.equal(!twice.ok && twice.error.code, 'MESSAGE_ALREADY_EXISTS');
    const invalid = await handleMessageCommand(store, id, { type: 'Hold', reason: 'because', at: at() } as never);
    assert.equal(!invalid.ok && invalid.error.code, 'INVALID_COMMAND');
    const missing = await handleMessageCommand(store, randomUUID(), { type: 'Cancel', at: at() });
    assert.equal(!missing.ok && missing.error.code, 'MESSAGE_NOT_FOUND');
    assert.equal((await store.readStream(`message-${id}`)).length, 2);
  });

  it('racing Cancel and delivery result from two processes: exactly one wins', async () => {
    for (let round = 0; round < 15; round++) {
      const id = randomUUID();
      assert.ok((await handleMessageCommand(store, id, accept(id))).ok);
      const [cancel, deliver] = await Promise.all([
        handleMessageCommand(store, id, { type: 'Cancel', by: 'admin', at: at() }),
        handleMessageCommand(other, id, { type: 'RecordDelivery', delivery, at: at() }),
      ]);
      assert.equal([cancel, deliver].filter((r) => r.ok).length, 1, `round ${round}`);
      const loser = cancel.ok ? deliver : cancel;
      assert.equal(!loser.ok && loser.error.code, 'MESSAGE_ALREADY_FINAL');
      const types = (await store.readStream(`message-${id}`)).map((e) => e.type);
      assert.equal(types.filter((t) => t === 'MessageCancelled' || t === 'MessageDelivered').length, 1);
    }
  });
});
