import type { Logger } from '../logging/index.js';
import { ClickHouseError, type ClickHouse } from './client.js';
import { clickhouseMigrations, type ClickHouseMigration } from './migrations-list.js';
import { identifier, qualified, sql } from './sql.js';

export interface ClickHouseMigrationReport {
  applied: number[];
  current: number;
}

/**
 * Brings the ClickHouse schema up to date: creates the database when missing, then applies the
 * migrations it has not recorded in `<database>.schema_migrations`, in order, statement by
 * statement, recording a version once all its statements succeeded.
 *
 * Two processes starting at once: ClickHouse has no transactions or locks to queue them, so the
 * safety comes from the statements: every one is idempotent (IF [NOT] EXISTS; an ALTER that finds
 * its work done — "already exists", "cannot find column to drop" — counts as done), a version is
 * recorded only after all its statements ran, and a version recorded twice is one version
 * (ReplacingMergeTree keyed by version, read with DISTINCT). Both processes end at the same schema;
 * a process that crashed mid-migration runs the whole migration again on its next start. (In
 * practice the projector runs one ClickHouse projection at a time, under leadership.)
 */
export async function migrateClickHouse(
  ch: ClickHouse,
  logger: Logger,
  migrations: ClickHouseMigration[] = clickhouseMigrations,
): Promise<ClickHouseMigrationReport> {
  const log = logger.child({ component: 'clickhouse-migrations' });
  for (const statement of bootstrapStatements(ch.database)) await runIdempotent(ch, statement, log);
  const rows = await ch.query<{ version: number }>(sql`SELECT DISTINCT version FROM ${ch.table('schema_migrations')}`);
  const done = new Set(rows.map((r) => Number(r.version)));
  const known = Math.max(0, ...migrations.map((m) => m.version));
  const newest = Math.max(0, ...done);
  if (newest > known) {
    throw new Error(
      `the ClickHouse schema in ${ch.database} is at version ${newest}, newer than this Postlog knows (${known}): upgrade Postlog`,
    );
  }
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    for (const [i, statement] of m.statements(ch.database).entries()) {
      try {
        await runIdempotent(ch, statement, log);
      } catch (error) {
        throw new Error(
          `ClickHouse migration ${m.version} (${m.name}) failed at statement ${i + 1}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    await ch.command(recordStatement(ch.database, m, new Date()));
    applied.push(m.version);
    log.info({ version: m.version, name: m.name }, 'applied ClickHouse migration');
  }
  return { applied, current: Math.max(newest, ...applied) };
}

/** The database and the table of applied versions, before any migration. */
export function bootstrapStatements(database: string): string[] {
  return [
    sql`CREATE DATABASE IF NOT EXISTS ${identifier(database)}`.text,
    sql`CREATE TABLE IF NOT EXISTS ${qualified(database, 'schema_migrations')} (
      version UInt32,
      name String,
      applied_at DateTime('UTC')
    ) ENGINE = ReplacingMergeTree() ORDER BY version`.text,
  ];
}

/** Records a migration as applied. */
export function recordStatement(database: string, m: ClickHouseMigration, at: Date): string {
  return sql`INSERT INTO ${qualified(database, 'schema_migrations')} (version, name, applied_at) VALUES (${m.version}, ${m.name}, ${at})`
    .text;
}

/** Every statement a fresh database gets, in order (for dialect checks). */
export function allMigrationStatements(
  database: string,
  migrations: ClickHouseMigration[] = clickhouseMigrations,
): string[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  return [
    ...bootstrapStatements(database),
    ...sorted.flatMap((m) => [...m.statements(database), recordStatement(database, m, new Date(0))]),
  ];
}

/**
 * Answers that mean "this statement's work is already done" (another process, or an earlier run
 * that crashed, did it). Same wording on 18.16 and current releases; the codes differ.
 */
const alreadyDone = [
  { codes: [57, 82], message: /already exists/i }, // TABLE_/DATABASE_ALREADY_EXISTS, for a CREATE without IF NOT EXISTS
  { codes: [44, 15], message: /Cannot add column .*already exists/i }, // ADD COLUMN (18.16: 44, current: DUPLICATE_COLUMN 15)
  { codes: [44, 10], message: /Cannot find column .* to drop/i }, // DROP COLUMN (18.16: 44, current: 10)
];

async function runIdempotent(ch: ClickHouse, statement: string, log: Logger): Promise<void> {
  try {
    await ch.command(statement);
  } catch (error) {
    const done =
      error instanceof ClickHouseError &&
      alreadyDone.some(
        (d) => error.code !== undefined && d.codes.includes(error.code) && d.message.test(error.message),
      );
    if (!done) throw error;
    log.info(
      { statement: statement.slice(0, 120), answer: (error as Error).message },
      'ClickHouse migration statement already applied',
    );
  }
}
