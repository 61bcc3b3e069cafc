import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { PostgresEventStore } from '../../infra/event-store/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';

/**
 * Appends go through a named prepared statement. A connection on which the server no longer has it
 * (a migration changed what it returns, or it was deallocated) must not fail appends for good.
 */
describe('PostgreSQL appends: a prepared statement the server dropped', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let store: PostgresEventStore;
  before(async () => {
    db = await createTestDatabase();
    // one connection: the DEALLOCATE below reaches the connection the appends use
    pool = db.newPool(1);
    store = new PostgresEventStore({ pool, connectionString: db.url, logger: testLogger });
  });
  after(async () => {
    await store.close();
    await pool.end();
    await db.drop();
  });

  const append = (stream: string) =>
    store.append(
      stream,
      [{ type: 'Noted', schemaVersion: 1, data: {}, metadata: { correlationId: 'c', actor: 't' } }],
      'no_stream',
    );

  it('goes again on a new connection, and the event is written once', async () => {
    assert.ok((await append('prepared-1')).ok);
    await pool.query('DEALLOCATE ALL');
    const second = await append('prepared-2');
    assert.ok(second.ok, JSON.stringify(second));
    assert.equal((await store.readStream('prepared-2')).length, 1);
    assert.ok((await append('prepared-3')).ok);
  });
});
