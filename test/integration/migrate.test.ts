import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrate, type Migration } from '../../infra/postgres/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';

describe('schema migrations', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  after(async () => db.drop());

  const applied = async () => (await db.pool.query<{ version: number }>('SELECT version FROM postlog_migrations ORDER BY version')).rows.map((r) => r.version);
  const indexState = async (name: string) =>
    (await db.pool.query<{ valid: boolean }>('SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1', [name])).rows[0]?.valid;

  it('builds concurrent indexes without a transaction, redoes one whose build failed, and records the migration only then', async () => {
    const table: Migration = { version: 1, name: 'a table', sql: 'CREATE TABLE things (id int NOT NULL, at timestamptz NOT NULL DEFAULT now())' };
    const indexes: Migration = {
      version: 2,
      name: 'indexes, concurrently',
      concurrentIndexes: [
        { name: 'things_id', table: 'things', definition: '(id) WHERE id > 0' },
        { name: 'things_at', table: 'things', definition: '(at)' },
      ],
    };
    const list = [table, indexes];
    await migrate(db.pool, testLogger, [table]);
    await db.pool.query('INSERT INTO things (id) VALUES (1), (2)');
    // a build that breaks midway (here on the data, as an interrupted one would) leaves an invalid index
    const breaking: Migration = { ...indexes, concurrentIndexes: [{ name: 'things_id', table: 'things', definition: '((1 / (id - 1)))' }] };
    await assert.rejects(migrate(db.pool, testLogger, [table, breaking]), /migration 2 .* failed: division by zero/);
    assert.equal(await indexState('things_id'), false, 'the failed build left an invalid index behind');
    assert.deepEqual(await applied(), [1], 'and the migration is not recorded');

    await migrate(db.pool, testLogger, list);
    assert.equal(await indexState('things_id'), true, 'built again, valid');
    assert.equal(await indexState('things_at'), true);
    assert.deepEqual(await applied(), [1, 2]);
    const def = (await db.pool.query<{ d: string }>("SELECT pg_get_indexdef('things_id'::regclass) AS d")).rows[0]!.d;
    assert.match(def, /WHERE \(id > 0\)/, 'the index of the migration, not the failed one');
    // nothing left to do on the next start
    assert.deepEqual((await migrate(db.pool, testLogger, list)).applied, []);
  });
});
