import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { messageStreamId } from '../../domain/index.js';
import {
  MemoryEventLog,
  MemoryEventStore,
  type EventToAppend,
  type ExpectedRevision,
} from '../../infra/event-store/index.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { acceptCommand, deliveredAttempt } from '../helpers/message-commands.js';

/**
 * The cases of test/integration/message-command-handler.test.ts on the in-memory log: the same
 * given/when/then, in milliseconds and without PostgreSQL. Ids and times are fixed: every run is
 * the same run.
 */
const AT = '2026-01-01T12:00:00.000Z';
const messageId = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const accept = (id: string) => acceptCommand(id, AT);
const delivery = deliveredAttempt(AT);

/** Counts the appends refused for a stale revision: shows that the race below really happens. */
class CountingStore extends MemoryEventStore {
  conflicts = 0;
  override async append(streamId: string, events: EventToAppend[], expected: ExpectedRevision) {
    const res = await super.append(streamId, events, expected);
    if (!res.ok && res.error.code === 'WRONG_EXPECTED_REVISION') this.conflicts++;
    return res;
  }
}

describe('message command handler on the in-memory log', () => {
  let store: CountingStore;
  let other: CountingStore;
  beforeEach(() => {
    // two stores on one log: two processes on one database
    const log = new MemoryEventLog();
    store = new CountingStore({ log });
    other = new CountingStore({ log });
  });
  afterEach(async () => {
    await store.close();
    await other.close();
  });

  it('Accept appends Accepted + Queued with the metadata', async () => {
    const id = messageId(1);
    const res = await handleMessageCommand(store, id, accept(id), { correlationId: 'req-1', serverId: 'srv-1' });
    assert.ok(res.ok);
    assert.equal(res.value.state.status, 'queued');
    const events = await store.readStream(messageStreamId(id));
    assert.deepEqual(
      events.map((e) => e.type),
      ['MessageAccepted', 'MessageQueued'],
    );
    assert.equal(events[0]!.metadata.correlationId, 'req-1');
    assert.equal(events[0]!.schemaVersion, 1);
  });

  it('a refused command appends nothing', async () => {
    const id = messageId(2);
    assert.ok((await handleMessageCommand(store, id, accept(id))).ok);
    const twice = await handleMessageCommand(store, id, accept(id));
    assert.equal(!twice.ok && twice.error.code, 'MESSAGE_ALREADY_EXISTS');
    const invalid = await handleMessageCommand(store, id, { type: 'Hold', reason: 'because', at: AT } as never);
    assert.equal(!invalid.ok && invalid.error.code, 'INVALID_COMMAND');
    const missing = await handleMessageCommand(store, messageId(3), { type: 'Cancel', at: AT });
    assert.equal(!missing.ok && missing.error.code, 'MESSAGE_NOT_FOUND');
    assert.equal((await store.readStream(messageStreamId(id))).length, 2);
  });

  it('racing Cancel and delivery result from two processes: exactly one wins', async () => {
    for (let round = 0; round < 15; round++) {
      const id = messageId(100 + round);
      assert.ok((await handleMessageCommand(store, id, accept(id))).ok);
      const conflictsBefore = store.conflicts + other.conflicts;
      const [cancel, deliver] = await Promise.all([
        handleMessageCommand(store, id, { type: 'Cancel', by: 'admin', at: AT }),
        handleMessageCommand(other, id, { type: 'RecordDelivery', delivery, at: AT }),
      ]);
      assert.equal([cancel, deliver].filter((r) => r.ok).length, 1, `round ${round}`);
      const loser = cancel.ok ? deliver : cancel;
      assert.equal(!loser.ok && loser.error.code, 'MESSAGE_ALREADY_FINAL');
      const types = (await store.readStream(messageStreamId(id))).map((e) => e.type);
      assert.equal(types.filter((t) => t === 'MessageCancelled' || t === 'MessageDelivered').length, 1);
      // both commands decided on the same state: the loser's append was refused and decided again
      assert.ok(store.conflicts + other.conflicts > conflictsBefore, `round ${round}: the two commands raced`);
    }
  });
});
