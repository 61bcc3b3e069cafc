import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { START, type EventStore, type EventToAppend, type RecordedEvent } from '../../infra/event-store/index.js';

/**
 * The event-store contract: every adapter of the port runs this suite.
 */
export interface EventStoreFixture {
  /** A store on a fresh, empty log. */
  store: EventStore;
  /** Another store on the same log, as a second process would have. */
  secondStore(): Promise<EventStore>;
  /**
   * Starts a transaction that writes an event to the log but does not commit; resolves with a
   * function that rolls it back. Adapters without such transactions leave this out.
   */
  openUncommittedWrite?(): Promise<() => Promise<void>>;
  /** What the adapter's log can do; absent means yes. Each "no" is explained in the README. */
  capabilities?: {
    /** appendMany commits several streams atomically; when false it must refuse with ATOMIC_APPEND_UNSUPPORTED and write nothing. */
    atomicAppendMany?: boolean;
    /** An event id is unique across the whole log, not only within its stream. */
    globalEventIds?: boolean;
    /**
     * A filtered read that comes back short answers a checkpoint past the events it looked through, so
     * a reader of rare events does not look through the same stretch of log again on every read.
     */
    filteredReadsSkipAhead?: boolean;
  };
  teardown(): Promise<void>;
}

const ev = (type: string, data: unknown = {}, extra: Partial<EventToAppend> = {}): EventToAppend => ({
  type,
  data,
  ...extra,
});
const stream = (prefix = 'test') => `${prefix}-${randomUUID()}`;

function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

async function readEverything(
  store: EventStore,
  filter?: Parameters<EventStore['readAll']>[2],
): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  let cp = START;
  for (;;) {
    const page = await store.readAll(cp, 5000, filter);
    if (page.events.length === 0) return all;
    all.push(...page.events);
    cp = page.checkpoint;
  }
}

export function eventStoreContract(adapter: string, makeFixture: () => Promise<EventStoreFixture>): void {
  describe(`event store contract: ${adapter}`, () => {
    let fx: EventStoreFixture;
    let store: EventStore;
    before(async () => {
      fx = await makeFixture();
      store = fx.store;
    });
    after(async () => {
      await fx.teardown();
    });

    describe('expected revision', () => {
      it('no_stream creates a stream and refuses an existing one', async () => {
        const s = stream();
        const first = await store.append(s, [ev('A'), ev('B')], 'no_stream');
        assert.ok(first.ok);
        assert.equal(first.value.nextExpectedRevision, 1);
        const again = await store.append(s, [ev('C')], 'no_stream');
        assert.deepEqual(again.ok ? undefined : again.error, {
          code: 'WRONG_EXPECTED_REVISION',
          streamId: s,
          expected: 'no_stream',
          actual: 1,
        });
      });

      it('stream_exists refuses a missing stream and accepts an existing one', async () => {
        const s = stream();
        const missing = await store.append(s, [ev('A')], 'stream_exists');
        assert.equal(missing.ok, false);
        assert.equal(
          !missing.ok && missing.error.code === 'WRONG_EXPECTED_REVISION' && missing.error.actual,
          'no_stream',
        );
        assert.deepEqual(await store.readStream(s), []);
        assert.ok((await store.append(s, [ev('A')], 'no_stream')).ok);
        const exists = await store.append(s, [ev('B')], 'stream_exists');
        assert.ok(exists.ok);
        assert.equal(exists.value.nextExpectedRevision, 1);
      });

      it('any accepts both a missing and an existing stream', async () => {
        const s = stream();
        assert.ok((await store.append(s, [ev('A')], 'any')).ok);
        const second = await store.append(s, [ev('B')], 'any');
        assert.ok(second.ok);
        assert.equal(second.value.nextExpectedRevision, 1);
      });

      it('an exact revision must match the last event', async () => {
        const s = stream();
        const onMissing = await store.append(s, [ev('A')], 0);
        assert.equal(
          !onMissing.ok && onMissing.error.code === 'WRONG_EXPECTED_REVISION' && onMissing.error.actual,
          'no_stream',
        );
        assert.ok((await store.append(s, [ev('A')], 'no_stream')).ok);
        const ok1 = await store.append(s, [ev('B'), ev('C')], 0);
        assert.ok(ok1.ok);
        assert.equal(ok1.value.nextExpectedRevision, 2);
        const stale = await store.append(s, [ev('D')], 1);
        assert.equal(!stale.ok && stale.error.code === 'WRONG_EXPECTED_REVISION' && stale.error.actual, 2);
        const ahead = await store.append(s, [ev('D')], 7);
        assert.equal(ahead.ok, false);
        assert.deepEqual(
          (await store.readStream(s)).map((e) => [e.revision, e.type]),
          [
            [0, 'A'],
            [1, 'B'],
            [2, 'C'],
          ],
        );
      });

      it('two writers racing to create the same stream: exactly one wins, also across processes', async () => {
        const other = await fx.secondStore();
        for (let round = 0; round < 25; round++) {
          const s = stream('race');
          const writers = [store, other, store, other].map((st, i) =>
            st.append(s, [ev('Created', { writer: i })], 'no_stream'),
          );
          const results = await Promise.all(writers);
          assert.equal(results.filter((r) => r.ok).length, 1, `round ${round}: exactly one creator`);
          for (const r of results) if (!r.ok) assert.equal(r.error.code, 'WRONG_EXPECTED_REVISION');
          assert.equal((await store.readStream(s)).length, 1);
        }
      });

      it('concurrent writers with the same exact revision: one wins, the others get the conflict', async () => {
        const other = await fx.secondStore();
        const s = stream();
        await store.append(s, [ev('A')], 'no_stream');
        const results = await Promise.all([store, other, store, other, store].map((st) => st.append(s, [ev('B')], 0)));
        assert.equal(results.filter((r) => r.ok).length, 1);
        assert.deepEqual(
          (await store.readStream(s)).map((e) => e.revision),
          [0, 1],
        );
      });

      it('a failed append in a group commit does not fail its neighbours', async () => {
        const s = stream();
        await store.append(s, [ev('A')], 'no_stream');
        const good = Array.from({ length: 20 }, () => store.append(stream(), [ev('X')], 'no_stream'));
        const bad = store.append(s, [ev('B')], 'no_stream');
        const results = await Promise.all([...good, bad]);
        assert.equal(results.filter((r) => r.ok).length, 20);
        assert.equal(results[20]!.ok, false);
      });
    });

    describe('atomic appendMany', () => {
      it('without atomic multi-stream appends, refuses clearly and writes nothing', async (t) => {
        if (fx.capabilities?.atomicAppendMany !== false)
          return t.skip('this log appends to several streams atomically: the cases below apply');
        const streams = [stream(), stream()];
        const res = await store.appendMany(
          streams.map((s) => ({ streamId: s, events: [ev('M')], expected: 'no_stream' as const })),
        );
        assert.equal(!res.ok && res.error.code, 'ATOMIC_APPEND_UNSUPPORTED');
        for (const s of streams) assert.deepEqual(await store.readStream(s), []);
        const single = await store.appendMany([{ streamId: streams[0]!, events: [ev('M')], expected: 'no_stream' }]);
        assert.ok(single.ok, 'one stream is a plain append, atomic everywhere');
      });

      it('appends to several streams at once', async (t) => {
        if (fx.capabilities?.atomicAppendMany === false)
          return t.skip('no atomic multi-stream appends on this log (see the case above)');
        const streams = [stream(), stream(), stream()];
        const res = await store.appendMany(
          streams.map((s, i) => ({ streamId: s, events: [ev('M', { i }), ev('N')], expected: 'no_stream' as const })),
        );
        assert.ok(res.ok);
        assert.deepEqual(
          res.value.map((r) => r.nextExpectedRevision),
          [1, 1, 1],
        );
        for (const s of streams) assert.equal((await store.readStream(s)).length, 2);
      });

      it('writes nothing when one append cannot commit, and names that one', async (t) => {
        if (fx.capabilities?.atomicAppendMany === false) return t.skip('no atomic multi-stream appends on this log');
        const existing = stream();
        await store.append(existing, [ev('A')], 'no_stream');
        const fresh = [stream(), stream()];
        const res = await store.appendMany([
          { streamId: fresh[0]!, events: [ev('M')], expected: 'no_stream' },
          { streamId: existing, events: [ev('M')], expected: 'no_stream' },
          { streamId: fresh[1]!, events: [ev('M')], expected: 'no_stream' },
        ]);
        assert.equal(res.ok, false);
        assert.deepEqual(!res.ok && [res.error.code, res.error.streamId], ['WRONG_EXPECTED_REVISION', existing]);
        for (const s of fresh) assert.deepEqual(await store.readStream(s), []);
        assert.equal((await store.readStream(existing)).length, 1);
      });

      it('is idempotent by event id, and refuses a stream twice', async (t) => {
        if (fx.capabilities?.atomicAppendMany === false) return t.skip('no atomic multi-stream appends on this log');
        const appends = [stream(), stream()].map((s) => ({
          streamId: s,
          events: [ev('M', {}, { eventId: randomUUID() })],
          expected: 'no_stream' as const,
        }));
        assert.ok((await store.appendMany(appends)).ok);
        const again = await store.appendMany(appends);
        assert.ok(again.ok && again.value.every((r) => r.idempotent));
        const twice = await store.appendMany([appends[0]!, appends[0]!]);
        assert.equal(!twice.ok && twice.error.code, 'INVALID_APPEND');
      });
    });

    describe('idempotent append by event id', () => {
      it('appending the same event ids again writes nothing and succeeds', async () => {
        const s = stream();
        const ids = [randomUUID(), randomUUID()];
        const first = await store.append(
          s,
          [ev('A', {}, { eventId: ids[0]! }), ev('B', {}, { eventId: ids[1]! })],
          'no_stream',
        );
        assert.ok(first.ok && !first.value.idempotent);
        const retry = await store.append(
          s,
          [ev('A', {}, { eventId: ids[0]! }), ev('B', {}, { eventId: ids[1]! })],
          'no_stream',
        );
        assert.ok(retry.ok, 'a retried append succeeds even though the stream now exists');
        assert.equal(retry.value.idempotent, true);
        assert.equal(retry.value.position, first.value.position);
        assert.deepEqual(
          (await store.readStream(s)).map((e) => e.eventId),
          ids,
        );
      });

      it('an event id already used elsewhere is refused', async (t) => {
        if (fx.capabilities?.globalEventIds === false)
          return t.skip('event ids are unique per stream on this log, not across it');
        const id = randomUUID();
        assert.ok((await store.append(stream(), [ev('A', {}, { eventId: id })], 'any')).ok);
        const s2 = stream();
        const clash = await store.append(s2, [ev('A', {}, { eventId: id })], 'any');
        assert.equal(!clash.ok && clash.error.code, 'DUPLICATE_EVENT_ID');
        assert.deepEqual(await store.readStream(s2), []);
      });

      it('invalid events are refused before anything is written', async () => {
        const s = stream();
        const bad = await store.append(s, [ev('A'), { type: '', data: {} }], 'any');
        assert.equal(!bad.ok && bad.error.code, 'INVALID_APPEND');
        assert.deepEqual(await store.readStream(s), []);
      });
    });

    describe('reading', () => {
      it('keeps type, data, metadata, schema version, ids and time', async () => {
        const s = stream();
        const eventId = randomUUID();
        const before = Date.now();
        const data = { text: 'héllo ✉ "quoted" \\ back', n: 42, nested: { list: [1, null, true] } };
        const metadata = { correlationId: 'corr-1', causationId: 'cause-1', serverId: 'srv', actor: 'api-key:1' };
        await store.append(s, [{ eventId, type: 'Thing', schemaVersion: 3, data, metadata }], 'no_stream');
        const [e] = await store.readStream(s);
        assert.ok(e);
        assert.equal(e.eventId, eventId);
        assert.equal(e.type, 'Thing');
        assert.equal(e.streamId, s);
        assert.equal(e.revision, 0);
        assert.equal(e.schemaVersion, 3);
        assert.deepEqual(e.data, data);
        assert.deepEqual(e.metadata, metadata);
        assert.ok(e.recordedAt.getTime() >= before - 5000 && e.recordedAt.getTime() <= Date.now() + 5000);
        assert.ok(Number.isInteger(e.position) && e.position > 0);
      });

      it("streamRevisions gives each stream's last revision and leaves out streams without events", async () => {
        const a = stream();
        const b = stream();
        await store.append(a, [ev('A'), ev('B'), ev('C')], 'no_stream');
        await store.append(b, [ev('A')], 'no_stream');
        const missing = stream();
        const revisions = await store.streamRevisions([a, b, missing]);
        assert.deepEqual(
          [...revisions].sort(([x], [y]) => x.localeCompare(y)),
          [
            [a, 2],
            [b, 0],
          ].sort(([x], [y]) => String(x).localeCompare(String(y))),
        );
        await store.append(b, [ev('D')], 0);
        assert.equal((await store.streamRevisions([b])).get(b), 1);
        assert.equal((await store.streamRevisions([])).size, 0);
      });

      it('readStream pages by revision', async () => {
        const s = stream();
        await store.append(
          s,
          Array.from({ length: 10 }, (_, i) => ev('N', { i })),
          'no_stream',
        );
        assert.deepEqual(
          (await store.readStream(s, { fromRevision: 7 })).map((e) => e.revision),
          [7, 8, 9],
        );
        assert.deepEqual(
          (await store.readStream(s, { fromRevision: 2, limit: 2 })).map((e) => e.revision),
          [2, 3],
        );
      });

      it('readAll filters by stream prefix and type, in log order', async () => {
        const tag = randomUUID().slice(0, 8);
        const a = `fa${tag}-1`;
        const b = `fb${tag}-1`;
        await store.append(a, [ev('Keep', { n: 1 }), ev('Drop')], 'no_stream');
        await store.append(b, [ev('Keep', { n: 2 })], 'no_stream');
        await store.append(`fa${tag}-2`, [ev('Keep', { n: 3 })], 'no_stream');
        const byPrefix = await readEverything(store, { streamPrefixes: [`fa${tag}-`] });
        assert.deepEqual(
          byPrefix.map((e) => e.type),
          ['Keep', 'Drop', 'Keep'],
        );
        const byBoth = await readEverything(store, { streamPrefixes: [`fa${tag}-`, `fb${tag}-`], types: ['Keep'] });
        assert.deepEqual(
          byBoth.map((e) => (e.data as { n: number }).n),
          [1, 2, 3],
        );
        const positions = byBoth.map((e) => e.position);
        assert.deepEqual(
          positions,
          [...positions].sort((x, y) => x - y),
        );
      });

      it('a filtered read that matches nothing moves past what it looked through, and misses nothing after', async (t) => {
        if (fx.capabilities?.filteredReadsSkipAhead === false)
          return t.skip("this log answers the reader's own checkpoint when nothing matched");
        const tag = randomUUID().slice(0, 8);
        const rare = { streamPrefixes: [`rare${tag}-`] };
        const first = await store.append(`rare${tag}-1`, [ev('Rare', { n: 1 })], 'no_stream');
        assert.ok(first.ok);
        const got = await store.readAll(START, 100, rare);
        assert.deepEqual(
          got.events.map((e) => (e.data as { n: number }).n),
          [1],
        );
        for (let i = 0; i < 5; i++) assert.ok((await store.append(stream('common'), [ev('Common')], 'no_stream')).ok);
        const head = await store.headCheckpoint();
        const nothing = await store.readAll(got.checkpoint, 100, rare);
        assert.deepEqual(nothing.events, []);
        assert.equal(nothing.checkpoint, head, 'past the five events it looked through');
        const second = await store.append(`rare${tag}-2`, [ev('Rare', { n: 2 })], 'no_stream');
        assert.ok(second.ok);
        const next = await store.readAll(nothing.checkpoint, 100, rare);
        assert.deepEqual(
          next.events.map((e) => (e.data as { n: number }).n),
          [2],
        );
        // a full page stops at its last event: what lies after it is not skipped
        const page = await store.readAll(START, 1, rare);
        assert.equal(page.checkpoint, page.events[0]!.checkpoint);
      });

      it('stores and delivers events of 1 MB', async () => {
        const s = stream();
        const big = { blob: 'x'.repeat(1024 * 1024), tail: 'end' };
        const sub: RecordedEvent[] = [];
        const subscription = store.subscribeAll(
          { from: 'end', filter: { streamPrefixes: [s] } },
          (batch) => void sub.push(...batch),
        );
        await new Promise((r) => setTimeout(r, 50));
        const res = await store.append(s, [ev('Big', big), ev('Big', big)], 'no_stream');
        assert.ok(res.ok);
        const read = await store.readStream(s);
        assert.deepEqual(read[1]!.data, big);
        await until(() => sub.length === 2, 10_000, 'the subscriber to receive both 1 MB events');
        assert.deepEqual(sub[0]!.data, big);
        await subscription.stop();
      });

      it('headCheckpoint is the checkpoint of the newest event', async () => {
        const s = stream();
        const res = await store.append(s, [ev('Last')], 'no_stream');
        assert.ok(res.ok);
        assert.equal(await store.headCheckpoint(), res.value.checkpoint);
        assert.deepEqual((await store.readAll(res.value.checkpoint, 10)).events, []);
      });
    });

    describe('subscriptions', () => {
      it('8 concurrent writers × 5,000 events: a live subscriber gets every event exactly once, in commit-safe order', async () => {
        const writers = 8;
        const perWriter = 5000;
        const prefix = `load${randomUUID().slice(0, 8)}-`;
        const seen: RecordedEvent[] = [];
        const subscription = store.subscribeAll(
          { from: 'end', filter: { streamPrefixes: [prefix] } },
          (batch) => void seen.push(...batch),
        );
        await new Promise((r) => setTimeout(r, 100));
        const stores = [store, await fx.secondStore()];
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            // each writer appends single events to a handful of its own streams, with exact revisions
            const revisions = new Map<string, number>();
            for (let i = 0; i < perWriter; i++) {
              const s = `${prefix}${w}-${i % 7}`;
              const expected = revisions.has(s) ? revisions.get(s)! : 'no_stream';
              const res = await stores[w % 2]!.append(s, [ev('Load', { w, i })], expected);
              assert.ok(res.ok, `writer ${w} append ${i}`);
              revisions.set(s, res.value.nextExpectedRevision);
            }
          }),
        );
        const total = writers * perWriter;
        await until(() => seen.length >= total, 60_000, `the subscriber to see ${total} events (saw ${seen.length})`);
        await new Promise((r) => setTimeout(r, 300));
        await subscription.stop();
        if (seen.length !== total) {
          const counts = new Map<string, number>();
          for (const e of seen) counts.set(e.eventId, (counts.get(e.eventId) ?? 0) + 1);
          const dups = seen
            .filter((e) => counts.get(e.eventId)! > 1)
            .map((e) => `${e.eventId} ${e.streamId}@${e.revision} ${e.checkpoint}`);
          const stored = await readEverything(store, { streamPrefixes: [prefix] });
          assert.fail(`saw ${seen.length} events, ${stored.length} stored; repeated: ${dups.join(', ')}`);
        }
        assert.equal(new Set(seen.map((e) => e.eventId)).size, total, 'every event once');
        // commit-safe order: what the live subscriber saw is exactly what a later full read returns
        const reread = await readEverything(store, { streamPrefixes: [prefix] });
        assert.deepEqual(
          seen.map((e) => e.eventId),
          reread.map((e) => e.eventId),
        );
        // and each stream's events arrive in revision order
        const last = new Map<string, number>();
        for (const e of seen) {
          assert.equal(e.revision, (last.get(e.streamId) ?? -1) + 1, `stream ${e.streamId} in order`);
          last.set(e.streamId, e.revision);
        }
      });

      it('a subscriber restarted from its checkpoint continues without loss or repetition', async () => {
        const prefix = `restart${randomUUID().slice(0, 8)}-`;
        for (let i = 0; i < 30; i++) await store.append(`${prefix}${i % 3}`, [ev('R', { i }), ev('R', { i })], 'any');
        const first: RecordedEvent[] = [];
        const sub1 = store.subscribeAll(
          { from: START, filter: { streamPrefixes: [prefix] }, batchSize: 7 },
          async (batch) => {
            first.push(...batch);
            if (first.length >= 21) await sub1Stop();
          },
        );
        const sub1Stop = () => {
          void sub1.stop();
        };
        await sub1.done;
        const checkpoint = sub1.checkpoint;
        assert.equal(first.length, 21);
        const second: RecordedEvent[] = [];
        const sub2 = store.subscribeAll(
          { from: checkpoint, filter: { streamPrefixes: [prefix] }, batchSize: 7 },
          (batch) => void second.push(...batch),
        );
        for (let i = 30; i < 40; i++) await store.append(`${prefix}${i % 3}`, [ev('R', { i })], 'any');
        await until(() => first.length + second.length >= 70, 10_000, 'the restarted subscriber to catch up');
        await sub2.stop();
        const ids = [...first, ...second].map((e) => e.eventId);
        assert.equal(ids.length, 70);
        assert.equal(new Set(ids).size, 70);
        assert.deepEqual(
          ids,
          (await readEverything(store, { streamPrefixes: [prefix] })).map((e) => e.eventId),
        );
      });

      it('a handler error ends the subscription with that error', async () => {
        const s = stream('boom');
        await store.append(s, [ev('A')], 'no_stream');
        const sub = store.subscribeAll({ from: START, filter: { streamPrefixes: [s] } }, () => {
          throw new Error('projection bug');
        });
        await assert.rejects(sub.done, /projection bug/);
      });

      it('a rolled-back write leaves a gap that does not stall subscribers', async (t) => {
        if (!fx.openUncommittedWrite) return t.skip('this adapter has no uncommitted writes to observe');
        const prefix = `gap${randomUUID().slice(0, 8)}-`;
        const seen: RecordedEvent[] = [];
        const sub = store.subscribeAll(
          { from: 'end', filter: { streamPrefixes: [prefix] } },
          (batch) => void seen.push(...batch),
        );
        await new Promise((r) => setTimeout(r, 50));
        const rollback = await fx.openUncommittedWrite();
        const after = await store.append(`${prefix}1`, [ev('AfterGap')], 'no_stream');
        assert.ok(after.ok);
        await rollback();
        await until(() => seen.length === 1, 5_000, 'the event after the gap');
        assert.equal(seen[0]!.type, 'AfterGap');
        await sub.stop();
      });
    });
  });
}
