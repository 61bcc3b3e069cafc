import type pg from 'pg';
import type { EventFilter } from '../port.js';
import type { PgCheckpoint } from './checkpoint.js';

/**
 * How far readers of the log are behind it, read from the events table: what the projections'
 * status report (projections/maintenance.ts) asks when the log is in Postgres. "After" a checkpoint
 * is in the order subscribers read, (transaction, position).
 */

/** LIKE patterns matching stream ids that start with one of `prefixes` (their % and _ taken literally). */
export function likePrefixPatterns(prefixes: readonly string[]): string[] {
  return prefixes.map((p) => `${p.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
}

/** The position of the newest event (null: the log is empty). */
export async function headPosition(pool: pg.Pool): Promise<number | null> {
  return (await pool.query<{ p: number | null }>('SELECT max(position) AS p FROM events')).rows[0]?.p ?? null;
}

/**
 * The events a filter takes (of these types, in streams with these prefixes) after the checkpoint,
 * counted up to `limit`, and how long the oldest of them has been waiting (seconds; null: none).
 */
export async function waitingMatching(
  pool: pg.Pool,
  after: PgCheckpoint,
  filter: EventFilter,
  limit: number,
): Promise<{ n: number; s: number | null } | undefined> {
  const params: unknown[] = [after.transactionId, after.position];
  const where = ['(transaction_id, position) > ($1::text::xid8, $2::bigint)'];
  if (filter.types?.length) {
    params.push(filter.types);
    where.push(`type = ANY($${params.length}::text[])`);
  }
  if (filter.streamPrefixes?.length) {
    params.push(likePrefixPatterns(filter.streamPrefixes));
    where.push(`stream_id LIKE ANY($${params.length}::text[])`);
  }
  const { rows: lag } = await pool.query<{ n: number; s: number | null }>(
    `SELECT count(*)::int AS n, extract(epoch FROM now() - min(recorded_at))::float8 AS s
           FROM (SELECT recorded_at FROM events WHERE ${where.join(' AND ')} LIMIT ${limit}) AS waiting`,
    params,
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
