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

  const applied = async () =>
    (await db.pool.query<{ version: number }>('SELECT version FROM postlog_migrations ORDER BY version')).rows.map(
      (r) => r.version,
    );
  const indexState = async (name: string) =>
    (
      await db.pool.query<{ valid: boolean }>(
        'SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1',
        [name],
      )
    ).rows[0]?.valid;

  it('builds concurrent indexes without a transaction, redoes one whose build failed, and records the migration only then', async () => {
    const table: Migration = {
      version: 1,
      name: 'a table',
      sql: 'CREATE TABLE things (id int NOT NULL, at timestamptz NOT NULL DEFAULT now())',
    };
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
    const breaking: Migration = {
      ...indexes,
      concurrentIndexes: [{ name: 'things_id', table: 'things', definition: '((1 / (id - 1)))' }],
    };
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

  it("creates the extension a concurrent index's operator class comes from, once", async () => {
    const fresh = await createTestDatabase({ migrate: false, poolSize: 2 });
    try {
      const hasTrgm = async () =>
        (await fresh.pool.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).rowCount === 1;
      assert.equal(await hasTrgm(), false, 'a new database has no pg_trgm');
      const list: Migration[] = [
        { version: 1, name: 'a table', sql: 'CREATE TABLE notes (body text NOT NULL)' },
        {
          version: 2,
          name: 'trigrams, concurrently',
          concurrentIndexes: [
            { name: 'notes_body', table: 'notes', definition: 'USING gin (body gin_trgm_ops)', extension: 'pg_trgm' },
          ],
        },
      ];
      await migrate(fresh.pool, testLogger, list);
      assert.equal(await hasTrgm(), true);
      const def = (await fresh.pool.query<{ d: string }>("SELECT pg_get_indexdef('notes_body'::regclass) AS d"))
        .rows[0]!;
      assert.match(def.d, /USING gin \(body gin_trgm_ops\)/);
      // an index of the same extension in a later migration finds it there
      list.push({
        version: 3,
        name: 'more trigrams',
        concurrentIndexes: [
          { name: 'notes_body_2', table: 'notes', definition: 'USING gin (body gin_trgm_ops)', extension: 'pg_trgm' },
        ],
      });
      assert.deepEqual((await migrate(fresh.pool, testLogger, list)).applied, [3]);
    } finally {
      await fresh.drop();
    }
  });

  it('two processes migrating at once: the second waits without a snapshot, so a concurrent index build does not deadlock', async () => {
    const other = await createTestDatabase({ migrate: false });
    try {
      const list: Migration[] = [
        { version: 1, name: 'a table', sql: 'CREATE TABLE items (id int NOT NULL)' },
        // a slow first step, so that the second process is already waiting for the lock
        { version: 2, name: 'slow', sql: 'SELECT pg_sleep(0.5)' },
        {
          version: 3,
          name: 'an index, concurrently',
          concurrentIndexes: [{ name: 'items_id', table: 'items', definition: '(id)' }],
        },
      ];
      const [a, b] = [other.newPool(2), other.newPool(2)];
      const first = migrate(a, testLogger, list);
      await new Promise((r) => setTimeout(r, 100));
      const results = await Promise.allSettled([first, migrate(b, testLogger, list)]);
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? r.value.applied : String(r.reason))),
        [[1, 2, 3], []],
      );
    } finally {
      await other.drop();
    }
  });

  it('a migration that needs a lock an old transaction holds gives way and tries again, instead of queueing every other session behind it', async () => {
    await migrate(db.pool, testLogger, [{ version: 10, name: 'a busy table', sql: 'CREATE TABLE busy (id int)' }]);
    const old = await db.pool.connect();
    try {
      // an old process's long transaction reads the table
      await old.query('BEGIN');
      await old.query('SELECT count(*) FROM busy');
      const migrating = migrate(
        db.pool,
        testLogger,
        [
          { version: 10, name: 'a busy table', sql: 'CREATE TABLE busy (id int)' },
          { version: 11, name: 'alter it', sql: 'ALTER TABLE busy ADD COLUMN at timestamptz' },
        ],
        {
          lockTimeoutMs: 100,
          retryDelayMs: 50,
        },
      );
      // meanwhile other sessions still read it: the waiting ALTER gives way every 100 ms
      await new Promise((r) => setTimeout(r, 300));
      const reader = await db.pool.connect();
      try {
        // (without the migration's lock timeout this read would wait for the old transaction)
        await reader.query('BEGIN');
        await reader.query('SET LOCAL lock_timeout = 2000');
        const started = performance.now();
        await reader.query('SELECT count(*) FROM busy');
        assert.ok(performance.now() - started < 1000, 'a reader waited no longer than about one lock timeout');
        await reader.query('COMMIT');
      } finally {
        reader.release();
      }
      await old.query('COMMIT');
      assert.deepEqual((await migrating).applied, [11]);
    } finally {
      old.release();
    }
    const few = await db.pool.connect();
    try {
      await few.query('BEGIN');
      await few.query('SELECT count(*) FROM busy');
      await assert.rejects(
        migrate(db.pool, testLogger, [{ version: 12, name: 'never gets its lock', sql: 'DROP TABLE busy' }], {
          lockTimeoutMs: 50,
          retryDelayMs: 10,
          attempts: 3,
        }),
        /migration 12 \(never gets its lock\) failed: canceling statement due to lock timeout/,
      );
      await few.query('ROLLBACK');
    } finally {
      few.release();
    }
  });
});
