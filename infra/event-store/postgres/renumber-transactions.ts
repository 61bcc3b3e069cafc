import type pg from 'pg';

/** The old and new transaction ids of a restore, until its transaction ends. */
const RENUMBERED = 'postlog_renumbered_transactions';

/**
 * The log orders events by (transaction_id, position) and reads only transactions older than every running
 * one (COMMITTED_ONLY, postgres-event-store.ts). A database restored from a backup lives in another cluster,
 * whose transaction ids have nothing to do with the ones its events carry: as restored, events with ids above
 * the new cluster's would be invisible to every reader, and new events would sort before the old ones. So a
 * restore numbers the events' transaction ids again, 3 and up in the same order; its caller then rewrites the
 * checkpoints that name them (renumberedCheckpoint) and has the cluster hand out ids above them before the
 * restore commits (infra/postgres/backup/transaction-ids.ts).
 *
 * Runs in the restore's transaction; returns how many transaction ids the log holds (the highest new one is
 * that plus 2).
 */
export async function renumberLogTransactions(client: pg.ClientBase): Promise<number> {
  await client.query(`
    CREATE TEMPORARY TABLE ${RENUMBERED} ON COMMIT DROP AS
      SELECT transaction_id AS old, (row_number() OVER (ORDER BY transaction_id) + 2)::text::xid8 AS new
        FROM (SELECT DISTINCT transaction_id FROM events) AS distinct_ids`);
  await client.query(`CREATE INDEX ON ${RENUMBERED} (old)`);
  await client.query(`
    UPDATE events e SET transaction_id = m.new
      FROM ${RENUMBERED} m
     WHERE e.transaction_id = m.old AND m.old <> m.new`);
  const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${RENUMBERED}`);
  return Number(rows[0]!.n);
}

/**
 * SQL for a checkpoint of this log (checkpoint.ts: `<transaction id>:<position>`, the last event handled) in
 * `column`, with its transaction id numbered as renumberLogTransactions did: the ids at or below it, counted.
 * Anything else (START, another store's checkpoint) stays as it is.
 */
export function renumberedCheckpoint(column: string): string {
  return String.raw`CASE WHEN ${column} ~ '^\d+:\d+$' AND split_part(${column}, ':', 1) <> '0'
    THEN (SELECT count(*) + 2 FROM ${RENUMBERED} m WHERE m.old <= split_part(${column}, ':', 1)::xid8)::text
         || ':' || split_part(${column}, ':', 2)
    ELSE ${column} END`;
}
