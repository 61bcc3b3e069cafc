import type pg from 'pg';
import type { Result } from '../../domain/index.js';

/**
 * Runs `work` in one transaction on a connection of its own: committed when it returns, rolled
 * back (and the error passed on) when it throws.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return transaction(pool, work, () => true);
}

/**
 * As `inTransaction`, for work whose expected failures are values: an error result is rolled back
 * (nothing of a refused change stays) and returned.
 */
export async function inResultTransaction<T, E>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<Result<T, E>>,
): Promise<Result<T, E>> {
  return transaction(pool, work, (result) => result.ok);
}

async function transaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  commits: (result: T) => boolean,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query(commits(result) ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
