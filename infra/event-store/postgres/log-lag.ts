import type pg from 'pg';
import type { PgCheckpoint } from './checkpoint.js';

/**
 * How far readers of the log are behind it, read from the events table: what the projections'
 * status report (projections/maintenance.ts) asks when the log is in Postgres. "After" a checkpoint
 * is in the order subscribers read, (transaction, position).
 */

/** The position of the newest event (null: the log is empty). */
export async function headPosition(pool: pg.Pool): Promise<number | null> {
  return (await pool.query<{ p: number | null }>('SELECT max(position) AS p FROM events')).rows[0]?.p ?? null;
}

/**
 * The events of these types after the checkpoint, counted up to `limit`, and how long the oldest
 * of them has been waiting (seconds; null: none).
 */
export async function waitingOfTypes(
  pool: pg.Pool,
  after: PgCheckpoint,
  types: string[],
  limit: number,
): Promise<{ n: number; s: number | null } | undefined> {
  const { rows: lag } = await pool.query<{ n: number; s: number | null }>(
    `SELECT count(*)::int AS n, extract(epoch FROM now() - min(recorded_at))::float8 AS s
           FROM (SELECT recorded_at FROM events WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint) AND type = ANY($3) LIMIT ${limit}) AS waiting`,
    [after.transactionId, after.position, types],
  );
  return lag[0];
}

/** How long the oldest event after the checkpoint has been waiting (seconds; null: none). */
export async function oldestWaitingSeconds(pool: pg.Pool, after: PgCheckpoint): Promise<number | null | undefined> {
  return (
    await pool.query<{ s: number | null }>(
      'SELECT extract(epoch FROM now() - min(recorded_at))::float8 AS s FROM events WHERE (transaction_id, position) > ($1::text::xid8, $2::bigint)',
      [after.transactionId, after.position],
    )
  ).rows[0]?.s;
}
