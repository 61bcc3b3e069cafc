import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { appendBatch, prepare, type PreparedAppend } from '../../infra/event-store/postgres/append-batch.js';
import type { ExpectedRevision } from '../../infra/event-store/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

/**
 * postlog_append_batch takes a short way for group commits that only create streams (every
 * accepted message) and the general way for everything else. These batches are built by hand, so
 * each case reaches the path it names, whatever the group committer would have batched.
 */
describe('group commit: batches that create streams', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  before(async () => {
    db = await createTestDatabase();
    pool = db.newPool(4);
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  let n = 0;
  const stream = () => `batch-${process.pid}-${n++}`;
  const request = (
    streamId: string,
    types: string[],
    expected: ExpectedRevision = 'no_stream',
    eventIds?: string[],
  ): PreparedAppend => {
    const parsed = prepare({
      streamId,
      expected,
      events: types.map((type, i) => ({
        type,
        data: { i },
        metadata: { correlationId: 'c', actor: 't' },
        ...(eventIds ? { eventId: eventIds[i] } : {}),
      })),
    });
    assert.ok(parsed.ok);
    return { streamId, expected, events: parsed.value };
  };
  const batch = async (requests: PreparedAppend[], atomic = false) => {
    const client = await pool.connect();
    try {
      return await appendBatch(client, requests, atomic);
    } finally {
      client.release();
    }
  };
  const events = async (streamId: string) =>
    (
      await pool.query<{ revision: string; type: string; position: string }>(
        'SELECT revision, type, position FROM events WHERE stream_id = $1 ORDER BY revision',
        [streamId],
      )
    ).rows;
  const streamRow = async (streamId: string) =>
    (await pool.query<{ revision: number }>('SELECT revision FROM streams WHERE stream_id = $1', [streamId])).rows[0]
      ?.revision;

  it('writes new streams of different lengths with their revisions, positions in request order', async () => {
    const streams = [stream(), stream(), stream()];
    const outcomes = await batch([
      request(streams[0]!, ['A', 'B']),
      request(streams[1]!, ['C']),
      request(streams[2]!, ['D', 'E', 'F']),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.ok && o.value.nextExpectedRevision),
      [1, 0, 2],
    );
    assert.ok(outcomes.every((o) => o.ok && !o.value.idempotent && o.value.checkpoint !== ''));
    const written = await Promise.all(streams.map(events));
    assert.deepEqual(
      written.map((rows) => rows.map((r) => [Number(r.revision), r.type])),
      [
        [
          [0, 'A'],
          [1, 'B'],
        ],
        [[0, 'C']],
        [
          [0, 'D'],
          [1, 'E'],
          [2, 'F'],
        ],
      ],
    );
    const positions = written.flat().map((r) => Number(r.position));
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
      'positions follow the order of the request',
    );
    // each outcome's position is its last event's
    assert.deepEqual(
      outcomes.map((o) => o.ok && o.value.position),
      written.map((rows) => Number(rows.at(-1)!.position)),
    );
    assert.deepEqual(await Promise.all(streams.map(streamRow)), [1, 0, 2]);
  });

  it('a stream that exists fails alone; the new ones around it are written, and no stream row is left half made', async () => {
    const existing = stream();
    assert.ok((await batch([request(existing, ['Old'])]))[0]!.ok);
    const fresh = [stream(), stream()];
    const outcomes = await batch([
      request(fresh[0]!, ['A', 'B']),
      request(existing, ['New']),
      request(fresh[1]!, ['C']),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, false, true],
    );
    assert.deepEqual(
      !outcomes[1]!.ok && [outcomes[1]!.error.code, (outcomes[1]!.error as { actual?: unknown }).actual],
      ['WRONG_EXPECTED_REVISION', 0],
    );
    assert.deepEqual(
      outcomes.map((o) => o.ok && o.value.nextExpectedRevision),
      [1, false, 0],
    );
    assert.deepEqual(
      (await events(existing)).map((r) => r.type),
      ['Old'],
    );
    assert.deepEqual(await Promise.all([...fresh, existing].map(streamRow)), [1, 0, 0]);
    assert.equal((await pool.query('SELECT count(*)::int AS c FROM streams WHERE revision = -1')).rows[0].c, 0);
  });

  it('atomic: one stream that exists rolls back the new ones too', async () => {
    const existing = stream();
    await batch([request(existing, ['Old'])]);
    const fresh = stream();
    const outcomes = await batch([request(fresh, ['A']), request(existing, ['New'])], true);
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [false, false],
    );
    assert.deepEqual(await events(fresh), []);
    assert.equal(await streamRow(fresh), undefined);
  });

  it('one stream named twice: the first append writes, the second finds it made', async () => {
    const s = stream();
    const outcomes = await batch([request(s, ['A']), request(s, ['B'])]);
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, false],
    );
    assert.deepEqual(
      (await events(s)).map((r) => r.type),
      ['A'],
    );
  });

  it('a retried batch (event ids seen before) is idempotent, and new streams beside it are still written', async () => {
    const s = stream();
    const ids = [randomUUID(), randomUUID()];
    const first = await batch([request(s, ['A', 'B'], 'no_stream', ids)]);
    assert.ok(first[0]!.ok);
    const fresh = stream();
    const retry = await batch([request(s, ['A', 'B'], 'no_stream', ids), request(fresh, ['C'])]);
    assert.ok(
      retry[0]!.ok &&
        retry[0]!.value.idempotent &&
        retry[0]!.value.position === (first[0]!.ok && first[0]!.value.position),
    );
    assert.ok(retry[1]!.ok && !retry[1]!.value.idempotent);
    assert.equal((await events(s)).length, 2);
  });

  it('an event id another writer commits while this batch waits for it is refused as a duplicate, not as an error', async () => {
    // writer B, still open: its append to a stream that does not exist at revision 5 fails (B drops
    // the stream row it made for it when it ends), its other append takes event id X
    const [s, contended, other] = [stream(), stream(), stream()];
    const x = randomUUID();
    const b = await pool.connect();
    try {
      await b.query('BEGIN');
      const bOut = await appendBatch(b, [request(contended, ['B'], 5), request(other, ['B'], 'no_stream', [x])]);
      assert.deepEqual(
        bOut.map((o) => o.ok),
        [false, true],
      );
      // A waits on B's row for the contended stream, then finds X taken
      const a = batch([request(s, ['A'], 'no_stream', [x]), request(contended, ['A'])]);
      await new Promise((r) => setTimeout(r, 200));
      await b.query('COMMIT');
      const aOut = await a;
      assert.deepEqual(!aOut[0]!.ok && [aOut[0]!.error.code, (aOut[0]!.error as { eventId?: string }).eventId], [
        'DUPLICATE_EVENT_ID',
        x,
      ]);
      assert.ok(aOut[1]!.ok && aOut[1]!.value.nextExpectedRevision === 0);
      assert.deepEqual(await events(s), []);
    } finally {
      b.release();
    }
  });

  it('concurrent batches creating overlapping streams: each stream gets exactly one creator', async () => {
    for (let round = 0; round < 20; round++) {
      const [a, shared, b] = [stream(), stream(), stream()];
      const [left, right] = await Promise.all([
        batch([request(a, ['L']), request(shared, ['L'])]),
        batch([request(shared, ['R']), request(b, ['R'])]),
      ]);
      assert.ok(left[0]!.ok && right[1]!.ok, `round ${round}: the streams only one side creates are written`);
      assert.equal(
        [left[1]!, right[0]!].filter((o) => o.ok).length,
        1,
        `round ${round}: exactly one creator of the shared stream`,
      );
      assert.equal((await events(shared)).length, 1);
    }
  });
});
