import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANY,
  MaxAppendSizeExceededError,
  NO_STREAM,
  STREAM_EXISTS,
  StreamDeletedError,
  UnavailableError,
  UnsupportedError,
  WrongExpectedVersionError,
  type RegexFilter,
  type PrefixesFilter,
} from '@kurrent/kurrentdb-client';
import { START, compareCheckpoints } from '../../infra/event-store/index.js';
import { normaliseConnectionString } from '../../infra/event-store/esdb/esdb-event-store.js';
import {
  METADATA_KEY,
  SCHEMA_VERSION_KEY,
  classifyRetry,
  compareEsdbCheckpoints,
  decodeCheckpoint,
  decodeEventMetadata,
  encodeCheckpoint,
  encodeEventMetadata,
  fromCurrentState,
  idempotencyWindow,
  matchesFilter,
  positionNumber,
  readMatching,
  serverFilter,
  toRecordedEvent,
  toStreamState,
  translateAppendError,
} from '../../infra/event-store/esdb/mapping.js';
import { resubscribeDelay } from '../../infra/event-store/esdb/subscription.js';

/*
 * The EventStoreDB adapter's translation logic, with the client library's real error classes and
 * filter builders: everything that can be checked without a server (the contract suite in
 * test/integration/esdb-event-store.test.ts needs one).
 */

const pos = (commit: bigint, prepare: bigint) => ({ commit, prepare });

describe('esdb checkpoints', () => {
  it('round-trip a $all position through the "commit:prepare" text', () => {
    for (const p of [pos(0n, 0n), pos(1234n, 1200n), pos(2n ** 63n - 1n, 2n ** 63n - 2n)]) {
      const cp = encodeCheckpoint(p);
      assert.match(cp, /^\d+:\d+$/);
      assert.deepEqual(decodeCheckpoint(cp), p);
    }
    assert.equal(encodeCheckpoint(pos(987654321n, 987654000n)), '987654321:987654000');
  });

  it('START decodes to the start of $all and sorts before every position', () => {
    assert.equal(decodeCheckpoint(START), 'start');
    assert.equal(compareEsdbCheckpoints(START, START), 0);
    assert.equal(compareEsdbCheckpoints(START, '0:0'), -1);
    assert.equal(compareEsdbCheckpoints('0:0', START), 1);
  });

  it('order by commit position, then prepare position, as $all is', () => {
    const sorted = ['5:5', '10:2', '10:9', '11:0', '100:100', '18446744073709551615:3'];
    const shuffled = [...sorted].reverse();
    assert.deepEqual([...shuffled].sort(compareEsdbCheckpoints), sorted);
    // bigints, not text: "9" sorts after "10" as text
    assert.equal(compareEsdbCheckpoints('9:9', '10:10'), -1);
    // the shared compareCheckpoints (used by rebuild/verify) orders them the same way
    assert.deepEqual([...shuffled].sort(compareCheckpoints), sorted);
  });

  it('refuse text that is not a checkpoint of this adapter', () => {
    for (const bad of ['', 'end', '12', '1:2:3', '-1:0', 'a:b'])
      assert.throws(() => decodeCheckpoint(bad), /not an EventStoreDB checkpoint/);
  });
});

describe('esdb positions', () => {
  it('the numeric position is the prepare position, increasing with $all order', () => {
    assert.equal(positionNumber(pos(2000n, 1500n)), 1500);
    const events = [pos(100n, 100n), pos(250n, 180n), pos(250n, 210n), pos(400n, 400n)];
    const numbers = events.map(positionNumber);
    assert.deepEqual(
      numbers,
      [...numbers].sort((a, b) => a - b),
    );
    assert.equal(new Set(numbers).size, numbers.length, 'unique even when events share a commit');
  });

  it('refuses a position that would lose precision as a number', () => {
    assert.equal(positionNumber(pos(0n, BigInt(Number.MAX_SAFE_INTEGER))), Number.MAX_SAFE_INTEGER);
    assert.throws(() => positionNumber(pos(0n, 2n ** 53n)), /exceeds 2\^53/);
  });
});

describe('esdb revisions', () => {
  it('map our expected revision to the client stream state', () => {
    assert.equal(toStreamState('no_stream'), NO_STREAM);
    assert.equal(toStreamState('any'), ANY);
    assert.equal(toStreamState('stream_exists'), STREAM_EXISTS);
    assert.equal(toStreamState(0), 0n);
    assert.equal(toStreamState(41), 41n);
    assert.throws(() => toStreamState(-1), RangeError);
    assert.throws(() => toStreamState(1.5), RangeError);
  });

  it('map the current state the server reports back to our actual revision', () => {
    assert.equal(fromCurrentState(7n), 7);
    assert.equal(fromCurrentState(0n), 0);
    assert.equal(fromCurrentState(NO_STREAM), 'no_stream');
    assert.equal(fromCurrentState(-5n), 'no_stream', 'a deleted stream');
    assert.equal(fromCurrentState(undefined), 'no_stream');
  });
});

describe('esdb append errors', () => {
  it('WrongExpectedVersion becomes WRONG_EXPECTED_REVISION with the actual revision', () => {
    const e = new WrongExpectedVersionError(undefined, { streamName: 'message-1', expected: NO_STREAM, current: 1n });
    assert.deepEqual(translateAppendError(e, 'message-1', 'no_stream'), {
      code: 'WRONG_EXPECTED_REVISION',
      streamId: 'message-1',
      expected: 'no_stream',
      actual: 1,
    });
    const missing = new WrongExpectedVersionError(undefined, {
      streamName: 'message-2',
      expected: STREAM_EXISTS,
      current: NO_STREAM,
    });
    assert.deepEqual(translateAppendError(missing, 'message-2', 'stream_exists'), {
      code: 'WRONG_EXPECTED_REVISION',
      streamId: 'message-2',
      expected: 'stream_exists',
      actual: 'no_stream',
    });
    const stale = new WrongExpectedVersionError(undefined, { streamName: 'message-3', expected: 1n, current: 2n });
    assert.deepEqual(translateAppendError(stale, 'message-3', 1), {
      code: 'WRONG_EXPECTED_REVISION',
      streamId: 'message-3',
      expected: 1,
      actual: 2,
    });
  });

  it('names the stream the server names (multi-stream appends)', () => {
    const e = new WrongExpectedVersionError(undefined, { streamName: 'message-9', expected: NO_STREAM, current: 0n });
    assert.equal(translateAppendError(e, 'message-1', 'no_stream')?.streamId, 'message-9');
  });

  it('deleted streams and oversized appends are INVALID_APPEND with a reason', () => {
    const deleted = translateAppendError(StreamDeletedError.fromStreamName('message-4'), 'message-4', 'any');
    assert.equal(deleted?.code, 'INVALID_APPEND');
    const big = translateAppendError(MaxAppendSizeExceededError.fromMaxAppendSize(1048576), 'message-5', 'any');
    assert.equal(big?.code, 'INVALID_APPEND');
    assert.match(big && 'message' in big ? big.message : '', /1048576 bytes.*MaxAppendSize/);
  });

  it('a server without multi-stream appends is ATOMIC_APPEND_UNSUPPORTED', () => {
    const e = translateAppendError(new UnsupportedError('multiStreamAppend', '25.1'), 'message-6', 'no_stream');
    assert.equal(e?.code, 'ATOMIC_APPEND_UNSUPPORTED');
    assert.match(e && 'message' in e ? e.message : '', /KurrentDB 25\.1/);
  });

  it('infrastructure failures are not append errors: the adapter throws them', () => {
    assert.equal(translateAppendError(new UnavailableError(undefined, 'connection refused'), 's', 'any'), undefined);
    assert.equal(translateAppendError(new Error('boom'), 's', 'any'), undefined);
    assert.equal(translateAppendError('weird', 's', 'any'), undefined);
  });
});

describe('esdb event metadata', () => {
  it('round-trips schema version and metadata as a flat object of strings', () => {
    const metadata = { correlationId: 'c-1', serverId: 'srv', actor: 'api-key:7', extra: { nested: [1, 'two'] } };
    const encoded = encodeEventMetadata(3, metadata);
    assert.ok(
      Object.values(encoded).every((v) => typeof v === 'string'),
      'multi-stream appends accept only string values',
    );
    assert.deepEqual(decodeEventMetadata(JSON.parse(JSON.stringify(encoded))), { schemaVersion: 3, metadata });
  });

  it('reads events written by other tools', () => {
    assert.deepEqual(decodeEventMetadata({ correlationId: 'x', $causationId: 'y' }), {
      schemaVersion: 1,
      metadata: { correlationId: 'x', $causationId: 'y' },
    });
    assert.deepEqual(decodeEventMetadata(undefined), { schemaVersion: 1, metadata: {} });
    assert.deepEqual(decodeEventMetadata(new Uint8Array([1, 2])), { schemaVersion: 1, metadata: {} });
    assert.deepEqual(decodeEventMetadata({ [SCHEMA_VERSION_KEY]: 'x', [METADATA_KEY]: '{not json' }), {
      schemaVersion: 1,
      metadata: {},
    });
    assert.deepEqual(
      decodeEventMetadata({ [METADATA_KEY]: '{"correlationId":5}' }),
      { schemaVersion: 1, metadata: {} },
      'metadata that breaks the envelope schema is dropped, not thrown',
    );
  });
});

describe('esdb filters', () => {
  it('stream prefixes go to the server as a stream-name prefix filter', () => {
    const f = serverFilter({ streamPrefixes: ['message-', 'server-'], types: ['MessageQueued'] }) as PrefixesFilter;
    assert.equal(f.filterOn, 'streamName');
    assert.deepEqual(f.prefixes, ['message-', 'server-']);
  });

  it('types alone go to the server as an exact event-type regex', () => {
    const f = serverFilter({ types: ['MessageQueued', 'Odd.Type$'] }) as RegexFilter;
    assert.equal(f.filterOn, 'eventType');
    const re = new RegExp(f.regex);
    assert.ok(re.test('MessageQueued'));
    assert.ok(re.test('Odd.Type$'));
    assert.ok(!re.test('MessageQueuedLater'), 'exact, not a prefix');
    assert.ok(!re.test('OddXType$'), 'dots are literal');
  });

  it('no filter excludes system events on the server', () => {
    const f = serverFilter(undefined) as RegexFilter;
    assert.equal(f.filterOn, 'eventType');
    const re = new RegExp(f.regex);
    assert.ok(!re.test('$metadata'));
    assert.ok(re.test('MessageAccepted'));
  });

  it('the exact check drops system events and applies both halves of a filter', () => {
    const filter = { streamPrefixes: ['message-'], types: ['MessageQueued'] };
    assert.equal(matchesFilter({ streamId: 'message-1', type: 'MessageQueued' }, filter), true);
    assert.equal(matchesFilter({ streamId: 'message-1', type: 'MessageSent' }, filter), false);
    assert.equal(matchesFilter({ streamId: 'server-1', type: 'MessageQueued' }, filter), false);
    assert.equal(matchesFilter({ streamId: 'message-1', type: '$>' }, undefined), false);
    assert.equal(matchesFilter({ streamId: '$$message-1', type: '$metadata' }, undefined), false);
    assert.equal(matchesFilter({ streamId: 'tenancy', type: 'ServerCreated' }, {}), true);
  });
});

describe('esdb idempotent appends', () => {
  it('look for a retry right after the expected revision, or in the newest events', () => {
    assert.deepEqual(idempotencyWindow('no_stream', 2), { direction: 'forwards', fromRevision: 'start', maxCount: 2 });
    assert.deepEqual(idempotencyWindow(4, 3), { direction: 'forwards', fromRevision: 5n, maxCount: 3 });
    assert.deepEqual(idempotencyWindow('any', 1, 10), { direction: 'backwards', fromRevision: 'end', maxCount: 11 });
    assert.deepEqual(idempotencyWindow('stream_exists', 1, 10).direction, 'backwards');
  });

  const stored = (eventId: string, revision: number) => ({
    eventId,
    revision,
    position: 100 + revision,
    checkpoint: `${100 + revision}:${100 + revision}`,
  });

  it('all ids stored: a no-op answering the last of them', () => {
    const check = classifyRetry(['a', 'b'], [stored('a', 0), stored('b', 1), stored('c', 2)]);
    assert.deepEqual(check, { kind: 'all', last: stored('b', 1) });
  });

  it('none stored: a new append', () => {
    assert.deepEqual(classifyRetry(['x'], [stored('a', 0)]), { kind: 'none' });
    assert.deepEqual(classifyRetry(['x'], []), { kind: 'none' });
  });

  it('some stored: DUPLICATE_EVENT_ID for the one already there', () => {
    assert.deepEqual(classifyRetry(['new', 'b'], [stored('b', 0)]), { kind: 'partial', eventId: 'b' });
  });
});

describe('esdb recorded events', () => {
  const base = {
    streamId: 'message-1',
    id: '0190a0a0-0000-7000-8000-000000000001',
    revision: 2n,
    type: 'MessageQueued',
    created: new Date('2026-01-02T03:04:05Z'),
  };

  it('become the port envelope', () => {
    const e = toRecordedEvent({
      ...base,
      isJson: true,
      data: { a: 1 },
      metadata: encodeEventMetadata(2, { serverId: 's' }),
      position: pos(500n, 480n),
    });
    assert.deepEqual(e, {
      eventId: base.id,
      type: 'MessageQueued',
      streamId: 'message-1',
      revision: 2,
      position: 480,
      checkpoint: '500:480',
      recordedAt: base.created,
      schemaVersion: 2,
      data: { a: 1 },
      metadata: { serverId: 's' },
    });
  });

  it('binary data is parsed when it is JSON, else kept as base64', () => {
    const json = toRecordedEvent({
      ...base,
      isJson: false,
      data: new TextEncoder().encode('{"b":2}'),
      metadata: undefined,
      position: pos(1n, 1n),
    });
    assert.deepEqual(json.data, { b: 2 });
    const raw = toRecordedEvent({
      ...base,
      isJson: false,
      data: new Uint8Array([0xff, 0x00]),
      metadata: undefined,
      position: pos(1n, 1n),
    });
    assert.equal(raw.data, '/wA=');
  });

  it('without a position from the server, the fallback is used', () => {
    assert.equal(toRecordedEvent({ ...base, isJson: true, data: {}, metadata: {} }, pos(77n, 77n)).checkpoint, '77:77');
    assert.equal(toRecordedEvent({ ...base, isJson: true, data: {}, metadata: {} }).checkpoint, START);
  });
});

describe('esdb connection and resubscription', () => {
  it('esdb:// is rewritten to kurrentdb:// (same meaning; the client warns about the old name)', () => {
    assert.equal(normaliseConnectionString('esdb://db:2113?tls=false'), 'kurrentdb://db:2113?tls=false');
    assert.equal(normaliseConnectionString('esdb+discover://a:2113,b:2113'), 'kurrentdb+discover://a:2113,b:2113');
    assert.equal(normaliseConnectionString('kurrentdb://db:2113'), 'kurrentdb://db:2113');
  });

  it('resubscribes with doubling back-off, capped', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => resubscribeDelay(n, 500, 10_000)),
      [500, 1000, 2000, 4000, 8000, 10_000, 10_000],
    );
    assert.equal(resubscribeDelay(1000, 500, 30_000), 30_000);
  });
});

describe('esdb readAll paging', () => {
  /** $all as the server pages it: from a position inclusive, at most `count` records, the server-side part of the filter applied. */
  const log = Array.from({ length: 50 }, (_, i) => ({
    eventId: `e${i}`,
    type: i % 10 === 9 ? 'Wanted' : 'Other',
    streamId: i < 5 ? `$stats-${i}` : `message-${i}`,
    revision: 0,
    position: (i + 1) * 100,
    checkpoint: `${(i + 1) * 100}:${(i + 1) * 100}`,
    recordedAt: new Date(0),
    schemaVersion: 1,
    data: {},
    metadata: {},
  }));
  const reads: number[] = [];
  async function* page(from: string, count: number) {
    reads.push(count);
    const start = from === START ? 0 : log.findIndex((e) => compareEsdbCheckpoints(e.checkpoint, from) >= 0);
    if (start < 0) return;
    yield undefined; // a link whose event was deleted
    for (const e of log.slice(start, start + count - 1)) yield e;
  }

  it('is exclusive of the start, drops system events, and pages in log order', async () => {
    const first = await readMatching(page, START, 3, undefined);
    assert.deepEqual(
      first.map((e) => e.eventId),
      ['e5', 'e6', 'e7'],
      'system streams ($stats-…) are skipped',
    );
    const next = await readMatching(page, first[2]!.checkpoint, 3, undefined);
    assert.deepEqual(
      next.map((e) => e.eventId),
      ['e8', 'e9', 'e10'],
    );
  });

  it('reads on past pages with no match, so an empty answer means the end of the log', async () => {
    reads.length = 0;
    const wanted = await readMatching(page, START, 2, { streamPrefixes: ['message-'], types: ['Wanted'] });
    assert.deepEqual(
      wanted.map((e) => e.eventId),
      ['e9', 'e19'],
    );
    assert.ok(reads.length > 1, 'several pages were needed');
    const rest = await readMatching(page, wanted[1]!.checkpoint, 10, {
      streamPrefixes: ['message-'],
      types: ['Wanted'],
    });
    assert.deepEqual(
      rest.map((e) => e.eventId),
      ['e29', 'e39', 'e49'],
    );
    assert.deepEqual(await readMatching(page, rest[2]!.checkpoint, 10, { types: ['Wanted'] }), []);
    assert.deepEqual(await readMatching(page, log[49]!.checkpoint, 10, undefined), []);
  });
});
