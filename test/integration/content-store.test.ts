import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ContentStore, contentHash } from '../../infra/content/index.js';
import { copyRowsBinary, parseBinaryCopy } from '../../infra/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

describe('content store (PostgreSQL)', () => {
  let db: TestDatabase;
  let store: ContentStore;
  before(async () => {
    db = await createTestDatabase();
    store = new ContentStore(db.pool);
  });
  after(async () => {
    await db.drop();
  });

  it('stores bodies written at the same time (one packed statement) byte for byte, each once', async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const bodies = [
      Buffer.from('Subject: hi\r\n\r\nhello'),
      every,
      Buffer.alloc(0),
      randomBytes(1024 * 1024),
      Buffer.from('Subject: hi\r\n\r\nhello'),
      randomBytes(3000),
    ];
    // concurrent calls share one batch of the micro-batcher
    const hashes = await Promise.all(bodies.map((b) => store.put(b)));
    assert.deepEqual(hashes, bodies.map(contentHash));
    const stored = await store.getMany(hashes);
    assert.equal(stored.size, 5, 'the repeated body is stored once');
    for (const b of bodies)
      assert.ok(stored.get(contentHash(b))!.equals(b), `body of ${b.length} bytes comes back unchanged`);
    const { rows } = await db.pool.query<{ sha256: string; size: number }>('SELECT sha256, size FROM contents');
    for (const r of rows) assert.equal(r.size, stored.get(r.sha256)!.length);
  });

  it('writing a body again changes nothing', async () => {
    const body = randomBytes(500);
    const first = await store.putMany([body, body]);
    const again = await store.put(body);
    assert.equal(first[0], again);
    assert.ok((await store.get(again))!.equals(body));
  });

  it('two writes of the same stored bodies in opposite orders do not deadlock (both refresh "last written")', async () => {
    const hashes = Array.from({ length: 40 }, (_, i) => String(i).padStart(64, '0'));
    const bodies = hashes.map((h) => Buffer.alloc(3000, h));
    await db.pool.query('SELECT postlog_put_contents($1::text[], $2::bytea[])', [hashes, bodies]);
    const [a, b] = [db.newPool(2), db.newPool(2)];
    try {
      const failures: string[] = [];
      // (in arrival order, the writes deadlocked in about one round of four)
      for (let round = 0; round < 30; round++) {
        await db.pool.query(
          "UPDATE contents SET created_at = now() - interval '2 hours' WHERE sha256 = ANY($1::text[])",
          [hashes],
        );
        const results = await Promise.allSettled([
          a.query('SELECT postlog_put_contents($1::text[], $2::bytea[])', [hashes, bodies]),
          b.query('SELECT postlog_put_contents($1::text[], $2::bytea[])', [
            [...hashes].reverse(),
            [...bodies].reverse(),
          ]),
        ]);
        for (const r of results) if (r.status === 'rejected') failures.push((r.reason as Error).message);
      }
      assert.deepEqual(failures, []);
      const { rows } = await db.pool.query(
        `SELECT count(*)::int AS n FROM contents WHERE sha256 = ANY($1::text[]) AND created_at > now() - interval '1 minute'`,
        [hashes],
      );
      assert.equal(rows[0].n, hashes.length);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('reads only well-formed hashes: unknown ones are absent, anything else never reaches the statement', async () => {
    const body = randomBytes(100 * 1024);
    const hash = await store.put(body);
    const unknown = contentHash(Buffer.from('never stored'));
    const found = await store.getMany([hash, unknown, "x' OR '1'='1", hash.toUpperCase(), hash]);
    assert.deepEqual([...found.keys()], [hash]);
    assert.ok(found.get(hash)!.equals(body));
    assert.equal((await store.getMany(["'; DROP TABLE contents; --"])).size, 0);
    assert.equal((await db.pool.query('SELECT count(*)::int AS n FROM contents')).rows[0].n > 0, true);
  });

  it('keeps bodies uncompressed, and small ones in the row (no pglz attempt per insert)', async () => {
    const { rows } = await db.pool.query<{ attstorage: string; reloptions: string[] | null }>(
      "SELECT a.attstorage, c.reloptions FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = 'contents' AND a.attname = 'body'",
    );
    assert.equal(rows[0]!.attstorage, 'e', 'EXTERNAL: out of line when large, never compressed');
    assert.deepEqual(rows[0]!.reloptions, ['toast_tuple_target=8160']);
    // a compressible 6 KB body stays in the row as it is: no TOAST pointer, no compression
    const text = Buffer.from('Lorem ipsum dolor sit amet.\r\n'.repeat(200));
    const hash = await store.put(text);
    const stored = await db.pool.query<{ size: number; compressed: string | null }>(
      'SELECT pg_column_size(body) AS size, pg_column_compression(body) AS compressed FROM contents WHERE sha256 = $1',
      [hash],
    );
    assert.equal(stored.rows[0]!.compressed, null);
    assert.ok(stored.rows[0]!.size >= text.length);
  });
});

describe('binary COPY reader', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  after(async () => {
    await db.drop();
  });

  it('returns each field as its bytes, NULL as null, with any number of rows', async () => {
    const rows = await copyRowsBinary(
      db.pool,
      "SELECT 'é'::text, NULL::bytea, decode('00ff0d0a', 'hex') UNION ALL SELECT '', decode('', 'hex'), NULL",
    );
    assert.deepEqual(
      rows.map((r) => r.map((f) => (f === null ? null : f.toString('hex')))),
      [
        [Buffer.from('é').toString('hex'), null, '00ff0d0a'],
        ['', '', null],
      ],
    );
    assert.deepEqual(await copyRowsBinary(db.pool, 'SELECT 1 WHERE false'), []);
  });

  it('rejects data that is not a whole binary COPY, and a failed COPY leaves the pool usable', async () => {
    // signature, flags and extension length, one row with one 3-byte field, trailer
    const whole = Buffer.concat([
      Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
      Buffer.alloc(8),
      Buffer.from([0, 1, 0, 0, 0, 3, 97, 98, 99, 0xff, 0xff]),
    ]);
    assert.deepEqual(parseBinaryCopy(whole), [[Buffer.from('abc')]]);
    assert.throws(() => parseBinaryCopy(whole.subarray(0, whole.length - 2)), /without a trailer/);
    assert.throws(() => parseBinaryCopy(whole.subarray(0, whole.length - 4)), /truncated field/);
    assert.throws(() => parseBinaryCopy(Buffer.from('COPY')), /signature/);
    await assert.rejects(copyRowsBinary(db.pool, 'SELECT 1/0'), /division by zero/);
    assert.equal((await db.pool.query('SELECT 1 AS one')).rows[0].one, 1);
  });
});
