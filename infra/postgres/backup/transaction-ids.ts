import type pg from 'pg';

/** Transaction ids are handed out in batches of this many, in one statement. */
const BATCH = 50_000;

/**
 * Makes the cluster hand out transaction ids above `past` from now on, by using ids up in empty
 * transactions (a fresh cluster is at about 750): a restore renumbers the log's transaction ids from 3
 * (infra/event-store/postgres/renumber-transactions.ts), and they must be in the cluster's past. Commits are not waited for on disk: they write nothing.
 * Returns how many ids it used.
 */
export async function advanceTransactionIdsPast(pool: pg.Pool, past: number): Promise<number> {
  const client = await pool.connect();
  let used = 0;
  try {
    await client.query('SET synchronous_commit = off');
    for (;;) {
      const { rows } = await client.query<{ id: string }>('SELECT pg_current_xact_id()::text AS id');
      used++;
      const missing = BigInt(past) - BigInt(rows[0]!.id);
      if (missing < 0n) return used;
      const n = Number(missing < BigInt(BATCH) ? missing + 1n : BigInt(BATCH));
      // COMMIT inside DO: one transaction, and so one id, per turn (PostgreSQL 11 and newer)
      await client.query(`DO $$ BEGIN FOR i IN 1..${n} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`);
      used += n;
    }
  } finally {
    client.release();
  }
}
