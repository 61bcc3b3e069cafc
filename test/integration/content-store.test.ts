import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ContentStore, contentHash } from '../../infra/content/index.js';
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
    const bodies = [Buffer.from('Subject: hi\r\n\r\nhello'), every, Buffer.alloc(0), randomBytes(1024 * 1024), Buffer.from('Subject: hi\r\n\r\nhello'), randomBytes(3000)];
    // concurrent calls share one batch of the micro-batcher
    const hashes = await Promise.all(bodies.map((b) => store.put(b)));
    assert.deepEqual(hashes, bodies.map(contentHash));
    const stored = await store.getMany(hashes);
    assert.equal(stored.size, 5, 'the repeated body is stored once');
    for (const b of bodies) assert.ok(stored.get(contentHash(b))!.equals(b), `body of ${b.length} bytes comes back unchanged`);
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
});
