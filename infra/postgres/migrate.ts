import type pg from 'pg';
import type { Logger } from '../logging/index.js';
import { quoteIdent } from './identifiers.js';
import type { ConcurrentIndex, Migration } from './migration.js';
import { migrations as defaultMigrations } from './migrations-list.js';

/** Any fixed number: every Postlog process takes this advisory lock while migrating. */
const MIGRATION_LOCK_ID = 7_303_417_001;

export interface MigrateOptions {
  /**
   * How long one attempt of a migration waits for a table lock before it gives up, rolls back and
   * tries again (after `retryDelayMs`). While a DDL statement waits for its lock, every other
   * reader and writer of that table queues behind it: an old process's long transaction would
   * otherwise stall the whole system for its length.
   */
  lockTimeoutMs?: number;
  retryDelayMs?: number;
  /** Attempts per migration before the start fails. */
  attempts?: number;
}

export interface MigrationReport {
  applied: number[];
  current: number;
}

/**
 * Brings the schema up to date. Safe when several processes start at once: they queue on an
 * advisory lock, and whoever comes second finds the work done. Each migration and its record
 * commit together, so a failed migration leaves nothing half-applied; a migration of concurrent
 * index builds is recorded after its indexes are built and valid, and a failed build is redone
 * on the next start.
 */
export async function migrate(
  pool: pg.Pool,
  logger: Logger,
  migrations: Migration[] = defaultMigrations,
  options: MigrateOptions = {},
): Promise<MigrationReport> {
  const lockTimeoutMs = options.lockTimeoutMs ?? 3000;
  const attempts = options.attempts ?? 100;
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await takeMigrationLock(client, logger);
    await client.query(`
      CREATE TABLE IF NOT EXISTS postlog_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM postlog_migrations');
    const done = new Set(rows.map((r) => r.version));
    const known = Math.max(0, ...migrations.map((m) => m.version));
    const newest = Math.max(0, ...done);
    if (newest > known) {
      throw new Error(
        `the database schema is at version ${newest}, newer than this Postlog knows (${known}): upgrade Postlog`,
      );
    }
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      if (m.concurrentIndexes) {
        try {
          for (const index of m.concurrentIndexes) await buildConcurrently(client, index, logger);
          await client.query('INSERT INTO postlog_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        } catch (err) {
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
        }
      } else {
        for (let attempt = 1; ; attempt++) {
          try {
            await client.query('BEGIN');
            await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
            await client.query(m.sql);
            await client.query('INSERT INTO postlog_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
            await client.query('COMMIT');
            break;
          } catch (err) {
            await client.query('ROLLBACK');
            // 55P03 lock_not_available: another session holds a lock this migration needs
            if ((err as { code?: string }).code === '55P03' && attempt < attempts) {
              if (attempt === 1)
                logger.warn(
                  { version: m.version, name: m.name, error: (err as Error).message },
                  'migration waits for a lock another session holds: trying again',
                );
              await new Promise((r) => setTimeout(r, options.retryDelayMs ?? 1000));
              continue;
            }
            throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
          }
        }
      }
      applied.push(m.version);
      logger.info({ version: m.version, name: m.name }, 'applied migration');
    }
    return { applied, current: Math.max(newest, ...applied) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    client.release();
  }
}

/**
 * CREATE INDEX CONCURRENTLY, resumable: a build that failed or was interrupted leaves an invalid
 * index behind, which is dropped and built again (IF NOT EXISTS alone would keep it, unusable).
 * The extension it needs, if any, is created first (committed on its own: CREATE EXTENSION is
 * transactional but quick, and IF NOT EXISTS makes a retry find it done).
 */
async function buildConcurrently(client: pg.PoolClient, index: ConcurrentIndex, logger: Logger): Promise<void> {
  const { rows } = await client.query<{ valid: boolean }>(
    `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
    [index.name],
  );
  if (rows[0]?.valid) return;
  if (rows[0]) {
    logger.warn({ index: index.name }, 'an earlier build of this index did not finish: building it again');
    await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(index.name)}`);
  }
  if (index.extension) await client.query(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(index.extension)}`);
  const started = performance.now();
  await client.query(
    `CREATE INDEX CONCURRENTLY ${quoteIdent(index.name)} ON ${quoteIdent(index.table)} ${index.definition}`,
  );
  logger.info(
    { index: index.name, table: index.table, ms: Math.round(performance.now() - started) },
    'built index concurrently',
  );
}

/**
 * Waits for the migration lock by asking again every 200 ms, not with a blocking
 * pg_advisory_lock: a session blocked in a statement holds a snapshot, and CREATE INDEX
 * CONCURRENTLY in the session that has the lock waits for every older snapshot, so two processes
 * starting together deadlocked (PostgreSQL broke it by failing the index build).
 */
async function takeMigrationLock(client: pg.PoolClient, logger: Logger): Promise<void> {
  let logged = false;
  for (;;) {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MIGRATION_LOCK_ID]);
    if (rows[0]?.ok) return;
    if (!logged) logger.info('another process is migrating the schema: waiting for it');
    logged = true;
    await new Promise((r) => setTimeout(r, 200));
  }
}
