import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MemoryEventLog,
  MemoryEventStore,
  START,
  compareCheckpoints,
  type EventToAppend,
} from '../../infra/event-store/index.js';
import { eventStoreContract } from '../contract/event-store.contract.js';

/**
 * The event-store contract on the in-memory adapter: a second store on the same log stands for a
 * second process. openUncommittedWrite is left out: an in-memory append commits in one step, so
 * there is no uncommitted write to observe (the contract skips that case).
 */
eventStoreContract('memory', async () => {
  const log = new MemoryEventLog();
  const stores: MemoryEventStore[] = [];
  const make = () => {
    const s = new MemoryEventStore({ log });
    stores.push(s);
    return s;
  };
  let second: MemoryEventStore | undefined;
  return {
    store: make(),
    secondStore: async () => (second ??= make()),
    async teardown() {
      await Promise.all(stores.map((s) => s.close()));
    },
  };
});

describe('in-memory event store: what the contract does not cover', () => {
  const ev = (type: string, data: unknown = {}): EventToAppend => ({ type, data });

  it('is deterministic: the same appends give the same ids, positions, checkpoints and times', async () => {
    const run = async () => {
      const clock = () => new Date('2026-01-01T00:00:00Z');
      const store = new MemoryEventStore({ log: new MemoryEventLog({ clock }) });
      await store.append('a-1', [ev('A'), ev('B')], 'no_stream');
      await store.appendMany([
        { streamId: 'b-1', events: [ev('C')], expected: 'no_stream' },
        { streamId: 'a-1', events: [ev('D')], expected: 1 },
      ]);
      return (await store.readAll(START, 100)).events;
    };
    const [first, second] = [await run(), await run()];
    assert.deepEqual(first, second);
    // one commit per append or appendMany: the first number of the checkpoint
    assert.deepEqual(
      first.map((e) => [e.streamId, e.revision, e.position, e.checkpoint]),
      [
        ['a-1', 0, 1, '1:1'],
        ['a-1', 1, 2, '1:2'],
        ['b-1', 0, 3, '2:3'],
        ['a-1', 2, 4, '2:4'],
      ],
    );
    assert.equal(first[0]!.eventId, '00000000-0000-7000-8000-000000000001');
    // the shared comparison orders them, as it does Postgres and EventStoreDB checkpoints
    const checkpoints = first.map((e) => e.checkpoint);
    assert.deepEqual([...checkpoints].reverse().sort(compareCheckpoints), checkpoints);
  });

  it('hands out copies: changing what was read or appended changes nothing stored', async () => {
    const store = new MemoryEventStore();
    const data = { list: [1] };
    await store.append('s-1', [ev('A', data)], 'no_stream');
    data.list.push(2);
    const [read] = await store.readStream('s-1');
    (read!.data as { list: number[] }).list.push(3);
    assert.deepEqual((await store.readStream('s-1'))[0]!.data, { list: [1] });
  });

  it('refuses a checkpoint of another log', async () => {
    const store = new MemoryEventStore();
    await store.append('s-1', [ev('A')], 'no_stream');
    await assert.rejects(store.readAll('7:3', 10), /not one of this in-memory log/);
    await assert.rejects(store.readAll('12345:1', 10), /not one of this in-memory log/);
    await assert.rejects(store.readAll('nonsense', 10), /not an in-memory event-store checkpoint/);
  });

  it('caughtUp() waits for the subscribers instead of polling, and reports a handler error', async () => {
    const store = new MemoryEventStore();
    const seen: string[] = [];
    const sub = store.subscribeAll({ filter: { types: ['Keep'] }, batchSize: 2 }, async (batch) => {
      await new Promise((r) => setTimeout(r, 1));
      seen.push(...batch.map((e) => e.streamId));
    });
    for (let i = 0; i < 5; i++) await store.append(`s-${i}`, [ev('Keep'), ev('Skip')], 'no_stream');
    await store.caughtUp();
    assert.deepEqual(seen, ['s-0', 's-1', 's-2', 's-3', 's-4']);
    assert.equal(sub.checkpoint, '5:9');
    const failing = store.subscribeAll({}, () => {
      throw new Error('projection bug');
    });
    await assert.rejects(store.caughtUp(), /projection bug/);
    await assert.rejects(failing.done, /projection bug/);
    await store.close();
    assert.equal(await store.healthy(), false);
    await assert.rejects(store.append('s-9', [ev('A')], 'any'), /closed/);
  });
});
