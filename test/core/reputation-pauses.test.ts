import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ReputationEvent } from '../../domain/index.js';
import { MemoryEventStore } from '../../infra/event-store/index.js';
import { appendReputation } from '../../write-side/reputation/reputation-checks.js';
import { ReputationPauses } from '../../write-side/reputation/reputation-pauses.js';
import { loadReputation } from '../../write-side/reputation/reputation-state.js';

const SERVER = 'srv-1';
const AT = '2026-01-01T12:00:00.000Z';
const paused: ReputationEvent = {
  type: 'SendingPaused',
  data: {
    serverId: SERVER,
    domain: null,
    kind: 'complaint',
    rate: 0.1,
    count: 1,
    volume: 10,
    threshold: 0.003,
    windowStart: AT,
    at: AT,
    reason: 'the complaint rate of the server is 10 % (1 of 10)',
  },
};
const resumed: ReputationEvent = {
  type: 'SendingResumed',
  data: { serverId: SERVER, domain: null, by: 'admin', at: AT },
};

/** Counts the reads of streams: the point of the cache is to save them. */
class CountingStore extends MemoryEventStore {
  reads = 0;
  override async readStream(...args: Parameters<MemoryEventStore['readStream']>) {
    this.reads++;
    return super.readStream(...args);
  }
}

describe("the reputation guard's pauses, as the accept path asks for them", () => {
  let store: CountingStore;
  beforeEach(() => {
    store = new CountingStore();
  });
  afterEach(() => store.close());
  const append = async (e: ReputationEvent) =>
    appendReputation(store, SERVER, [e], (await loadReputation(store, SERVER)).revision, 'test');

  it('remembers "no pause" for its time to live, then reads again and sees a pause', async () => {
    const pauses = new ReputationPauses(store, 100);
    assert.equal(await pauses.holding(SERVER, 'example.com'), undefined);
    assert.equal(await pauses.holding(SERVER, 'example.com'), undefined);
    assert.equal(store.reads, 1, 'the second answer came from memory');
    await append(paused);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await pauses.holding(SERVER, 'example.com'))?.kind, 'complaint');
  });

  it('reads a paused server every time, so that a resume releases new mail at once', async () => {
    const pauses = new ReputationPauses(store, 60_000);
    await append(paused);
    assert.equal((await pauses.holding(SERVER, 'example.com'))?.kind, 'complaint');
    assert.equal((await pauses.holding(SERVER, 'example.com'))?.kind, 'complaint');
    const reads = store.reads;
    await append(resumed);
    assert.equal(await pauses.holding(SERVER, 'example.com'), undefined);
    assert.ok(store.reads > reads);
  });
});
