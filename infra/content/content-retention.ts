import type pg from 'pg';
import { queuedMessageNeeds } from '../delivery-queue/content-references.js';
import { readModelMessageNeeds } from '../read-models/retention-queries.js';
import { pendingRouteDeliveryNeeds } from '../routes/content-references.js';

/**
 * Content retention's statements on the bodies (write-side/retention/content-release.ts): the
 * deletion of bodies nothing needs, and the orphan sweep's walk over every body with its place
 * kept in retention_progress. Each runs on the connection it is given, in the caller's transaction.
 */

/**
 * Deletes the given bodies that no message needs any more: none of the read models' messages
 * with unexpired content uses them, no queue row does, no HTTP route has still to take them
 * (inbound mail), and they were last written before `cutoff`.
 * Returns the hashes deleted.
 *
 * Rows are locked in hash order, as postlog_put_contents locks them when it refreshes bodies
 * written again, so the two cannot deadlock; a body such a write holds is skipped (it is being
 * refreshed: the orphan sweep meets it again, a candidate is looked at again a day later).
 */
export async function deleteUnneeded(client: pg.PoolClient, hashes: string[], cutoff: Date): Promise<string[]> {
  const { rows } = await client.query<{ sha256: string }>(
    `DELETE FROM contents c
      WHERE c.sha256 IN (SELECT sha256 FROM contents WHERE sha256 = ANY($1::text[]) AND created_at < $2 ORDER BY sha256 FOR UPDATE SKIP LOCKED)
        AND c.created_at < $2
        AND NOT ${readModelMessageNeeds('c.sha256')}
        AND NOT ${queuedMessageNeeds('c.sha256')}
        AND NOT ${pendingRouteDeliveryNeeds('c.sha256')}
      RETURNING c.sha256`,
    [hashes, cutoff.toISOString()],
  );
  return rows.map((r) => r.sha256);
}

/** A place in the walk over the bodies, in (created_at, sha256) order; created_at as text. */
export interface SweepMark {
  at: string;
  sha256: string;
}

/** Where the named sweep stands, locked until the transaction ends (undefined: it never ran). */
export async function lockSweepMark(client: pg.ClientBase, sweep: string): Promise<SweepMark | undefined> {
  return (
    await client.query<SweepMark>(
      'SELECT created_at::text AS at, sha256 FROM retention_progress WHERE name = $1 FOR UPDATE',
      [sweep],
    )
  ).rows[0];
}

/** Up to `limit` bodies after `mark` in (created_at, sha256) order, last written before `cutoff`. */
export async function bodiesAfter(
  client: pg.ClientBase,
  mark: SweepMark,
  cutoff: Date,
  limit: number,
): Promise<SweepMark[]> {
  const { rows } = await client.query<SweepMark>(
    // created_at as text: a JavaScript Date would drop its microseconds and the walk could stall
    `SELECT created_at::text AS at, sha256 FROM contents
          WHERE (created_at, sha256) > ($1::timestamptz, $2) AND created_at < $3
          ORDER BY created_at, sha256 LIMIT $4`,
    [mark.at, mark.sha256, cutoff.toISOString(), limit],
  );
  return rows;
}

/** The named sweep now stands at `mark`. */
export async function saveSweepMark(client: pg.ClientBase, sweep: string, mark: SweepMark): Promise<void> {
  await client.query(
    `INSERT INTO retention_progress (name, created_at, sha256) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO UPDATE SET created_at = excluded.created_at, sha256 = excluded.sha256`,
    [sweep, mark.at, mark.sha256],
  );
}
