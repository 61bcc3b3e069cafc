import type pg from 'pg';

/**
 * The log orders events by (transaction_id, position) and reads only transactions older than every running
 * one (`transaction_id < pg_snapshot_xmin(pg_current_snapshot())`, infra/event-store/postgres). A restored
 * database lives in another cluster, whose transaction ids have nothing to do with the ones the events carry:
 * as restored, events with ids above the new cluster's would be invisible to every reader, and new events
 * would sort before the old ones. So the restore numbers the events' transaction ids again, 3 and up in the
 * same order, rewrites the checkpoints that name them, and has the cluster hand out ids above them.
 *
 * Runs in the restore's transaction (`client`), after the tables are filled; returns how many transaction
 * ids the log holds, the number the cluster must be past before that transaction commits.
 */
export async function renumberLogTransactions(client: pg.PoolClient): Promise<number> {
  await client.query(`
    CREATE TEMPORARY TABLE postlog_restored_transactions ON COMMIT DROP AS
      SELECT transaction_id AS old, (row_number() OVER (ORDER BY transaction_id) + 2)::text::xid8 AS new
        FROM (SELECT DISTINCT transaction_id FROM events) AS distinct_ids`);
  await client.query('CREATE INDEX ON postlog_restored_transactions (old)');
  await client.query(`
    UPDATE events e SET transaction_id = m.new
      FROM postlog_restored_transactions m
     WHERE e.transaction_id = m.old AND m.old <> m.new`);
  // a checkpoint names the last event handled: its transaction's new id (the ids at or below it, counted)
  await client.query(String.raw`
    UPDATE projection_checkpoints c
       SET checkpoint = (SELECT count(*) + 2 FROM postlog_restored_transactions m
                          WHERE m.old <= split_part(c.checkpoint, ':', 1)::xid8)::text
                        || ':' || split_part(c.checkpoint, ':', 2)
     WHERE c.checkpoint ~ '^\d+:\d+$' AND split_part(c.checkpoint, ':', 1) <> '0'`);
  const { rows } = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM postlog_restored_transactions');
  return Number(rows[0]!.n);
}

/** Transaction ids are handed out in batches of this many, in one statement. */
const BATCH = 50_000;

/**
 * Makes the cluster hand out transaction ids above `past` from now on, by using ids up in empty
 * transactions (a fresh cluster is at about 750). Commits are not waited for on disk: they write nothing.
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
