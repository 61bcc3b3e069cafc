import type pg from 'pg';

/**
 * How many days each server keeps message content, every server in id order: what content
 * retention (write-side/retention/content-expiry.ts) walks. Not through the Servers class: it is
 * the system's own job, with no actor to authorize.
 */
export async function retentionPeriods(pool: pg.Pool): Promise<{ id: string; retention_days: number }[]> {
  const { rows } = await pool.query<{ id: string; retention_days: number }>(
    'SELECT id, retention_days FROM servers ORDER BY id',
  );
  return rows;
}
