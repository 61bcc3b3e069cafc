import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type pg from 'pg';
import { migrate, migrations, type Migration } from '../../infra/postgres/index.js';
import { migrations as migrationsBeforeSplit } from '../fixtures/migrations-before-split.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';

/** What a migrated schema is made of, each part as sorted rows (JSON), to compare two databases. */
const SCHEMA_PARTS: Record<string, string> = {
  migrations: 'SELECT version, name FROM postlog_migrations',
  columns: `SELECT table_name, column_name, ordinal_position, data_type, udt_name, is_nullable, column_default,
                   is_identity, identity_generation, is_generated, generation_expression
              FROM information_schema.columns WHERE table_schema = current_schema()`,
  indexes: 'SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()',
  functions: `SELECT pg_get_functiondef(p.oid) AS definition FROM pg_proc p
               WHERE p.pronamespace = current_schema()::regnamespace`,
  constraints: `SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS definition
                  FROM pg_constraint WHERE connamespace = current_schema()::regnamespace`,
  sequences: `SELECT sequence_name, data_type, start_value, increment FROM information_schema.sequences
               WHERE sequence_schema = current_schema()`,
  // fillfactor, autovacuum settings, toast_tuple_target (migrations 9 and 15)
  relationOptions: `SELECT relname, relkind, reloptions FROM pg_class
                     WHERE relnamespace = current_schema()::regnamespace AND reloptions IS NOT NULL`,
  // a column's storage (migration 15 stores contents.body uncompressed)
  columnStorage: `SELECT c.relname, a.attname, a.attstorage FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                   WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND a.attnum > 0`,
};

async function schemaOf(pool: pg.Pool): Promise<Record<string, string[]>> {
  const dump: Record<string, string[]> = {};
  for (const [part, sql] of Object.entries(SCHEMA_PARTS))
    dump[part] = (await pool.query(sql)).rows.map((r) => JSON.stringify(r)).sort();
  return dump;
}

/**
 * The migrations' DDL moved from one long list to the modules that own each table (issue 21). The
 * databases of existing installations were migrated with the list as it was, so today's list must
 * build the same schema: from scratch, and from a database the old list brought to any version.
 */
describe('migrations: the list of owners builds the schema the list before the split built', () => {
  /** A new database, migrated with each list in turn: its schema. */
  const migrated = async (...lists: (typeof migrations)[]) => {
    const db: TestDatabase = await createTestDatabase({ migrate: false, poolSize: 2 });
    try {
      for (const list of lists) await migrate(db.pool, testLogger, list);
      return await schemaOf(db.pool);
    } finally {
      await db.drop();
    }
  };
  // the migrations added after the split are not the old list's business
  const lastBeforeSplit = migrationsBeforeSplit.at(-1)!.version;
  const split = migrations.filter((m) => m.version <= lastBeforeSplit);
  let reference: Record<string, string[]>;
  before(async () => {
    reference = await migrated(migrationsBeforeSplit);
  });

  it('has the same versions and names', () => {
    const versions = (list: typeof migrations) => list.map((m) => `${m.version} ${m.name}`);
    assert.deepEqual(versions(split), versions(migrationsBeforeSplit));
  });

  it('builds the same schema from scratch (and the dump sees what the migrations made)', async () => {
    assert.deepEqual(await migrated(split), reference);
    // a comparison of empty dumps would prove nothing
    for (const [part, rows] of Object.entries(reference)) assert.ok(rows.length > 0, part);
    assert.ok(reference.functions!.some((f) => f.includes('postlog_lease_deliveries')));
  });

  it('upgrades a database the old list brought to any earlier version to the same schema', async () => {
    // From a version v, the upgrade runs today's migrations after v. Those whose SQL is the old SQL
    // (but for spaces) do what they did: what remains to prove is an upgrade from just before each
    // migration whose SQL changed, which covers the versions between as well.
    const sqlOf = (m: Migration) => (m.sql ?? JSON.stringify(m.concurrentIndexes)).replace(/\s+/g, ' ').trim();
    const starts = migrationsBeforeSplit
      .filter((old, i) => i > 0 && sqlOf(old) !== sqlOf(split[i]!))
      .map((old) => migrationsBeforeSplit[migrationsBeforeSplit.indexOf(old) - 1]!.version);
    for (const v of starts) {
      const upgraded = await migrated(
        migrationsBeforeSplit.filter((m) => m.version <= v),
        split,
      );
      assert.deepEqual(upgraded, reference, `from version ${v}`);
    }
  });
});
