import type pg from 'pg';
import { systemClock } from '../../infra/clock/index.js';
import { queuedMessageNeeds } from '../../infra/delivery-queue/index.js';
import { inTransaction } from '../../infra/postgres/transaction.js';
import type { RetentionDeps } from './retention-job.js';

/** The projections that tell who still needs a body: the messages read model and the delivery queue. */
const REFERENCING_PROJECTIONS = ['message-read-models', 'delivery-queue'];
/** A body younger than this is never deleted (its message may still be on its way into the log). */
const MIN_AGE_MS = 86_400_000;
/** Margin behind the oldest event the read models have not applied yet. */
const LAG_MARGIN_MS = 3_600_000;
const ORPHAN_SWEEP = 'orphan-sweep';

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
        AND NOT EXISTS (SELECT 1 FROM rm_messages m WHERE m.content_hash = c.sha256 AND NOT m.content_expired)
        AND NOT ${queuedMessageNeeds('c.sha256')}
        AND NOT EXISTS (SELECT 1 FROM route_deliveries r WHERE r.content_sha256 = c.sha256 AND r.status = 'pending')
      RETURNING c.sha256`,
    [hashes, cutoff.toISOString()],
  );
  return rows.map((r) => r.sha256);
}

/**
 * The newest "last written" time a body may have to be deleted now: a day ago, and an hour before
 * the oldest event the read models have not applied (a message they have not seen may use it).
 * A stalled projection thus stops deletions instead of letting them remove a body still needed.
 */
export async function deletionCutoff(deps: RetentionDeps, now: Date): Promise<Date> {
  const lags = await deps.projectionLagSeconds(REFERENCING_PROJECTIONS);
  const lagMs = Math.max(0, ...lags.map((seconds) => seconds * 1000));
  const wallNow = (deps.clock ?? systemClock).now().getTime();
  return new Date(Math.min(now.getTime() - MIN_AGE_MS, wallNow - lagMs - LAG_MARGIN_MS));
}

/**
 * Release candidates that are due: deleted with their body when nothing needs it; a body still
 * needed (shared by a message not expired yet, or the read models behind) is looked at again a day
 * later. Each batch is one short transaction.
 */
export async function releaseCandidates(
  deps: RetentionDeps,
  now: Date,
  cutoff: Date,
  batchSize: number,
  deadline: number,
): Promise<{ deleted: number; complete: boolean }> {
  let deleted = 0;
  for (;;) {
    if (performance.now() > deadline) return { deleted, complete: false };
    const batch = await inTransaction(deps.pool, async (client) => {
      const { rows } = await client.query<{ sha256: string }>(
        'SELECT sha256 FROM content_release_candidates WHERE check_after <= $1 ORDER BY check_after LIMIT $2 FOR UPDATE SKIP LOCKED',
        [now.toISOString(), batchSize],
      );
      const hashes = rows.map((r) => r.sha256);
      if (hashes.length === 0) return { read: 0, deleted: 0 };
      const gone = await deleteUnneeded(client, hashes, cutoff);
      await client.query(
        'DELETE FROM content_release_candidates r WHERE r.sha256 = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM contents c WHERE c.sha256 = r.sha256)',
        [hashes],
      );
      await client.query(
        "UPDATE content_release_candidates SET check_after = $2::timestamptz + interval '1 day' WHERE sha256 = ANY($1::text[])",
        [hashes, now.toISOString()],
      );
      return { read: hashes.length, deleted: gone.length };
    });
    deleted += batch.deleted;
    if (batch.read < batchSize) return { deleted, complete: true };
  }
}

/**
 * Bodies whose message never made it into the log (the append after the content write failed):
 * every body is looked at once, in (created_at, sha256) order, when it is older than the cutoff;
 * the sweep's position is kept in retention_progress. A body rewritten later (the same bytes
 * again) moves forward and is looked at again.
 */
export async function sweepOrphans(
  deps: RetentionDeps,
  cutoff: Date,
  batchSize: number,
  deadline: number,
): Promise<{ deleted: number; complete: boolean }> {
  let deleted = 0;
  for (;;) {
    if (performance.now() > deadline) return { deleted, complete: false };
    const batch = await inTransaction(deps.pool, async (client) => {
      const mark = (
        await client.query<{ at: string; sha256: string }>(
          'SELECT created_at::text AS at, sha256 FROM retention_progress WHERE name = $1 FOR UPDATE',
          [ORPHAN_SWEEP],
        )
      ).rows[0] ?? { at: '-infinity', sha256: '' };
      const { rows } = await client.query<{ at: string; sha256: string }>(
        // created_at as text: a JavaScript Date would drop its microseconds and the walk could stall
        `SELECT created_at::text AS at, sha256 FROM contents
          WHERE (created_at, sha256) > ($1::timestamptz, $2) AND created_at < $3
          ORDER BY created_at, sha256 LIMIT $4`,
        [mark.at, mark.sha256, cutoff.toISOString(), batchSize],
      );
      if (rows.length === 0) return { read: 0, deleted: 0 };
      const gone = await deleteUnneeded(
        client,
        rows.map((r) => r.sha256),
        cutoff,
      );
      const last = rows[rows.length - 1]!;
      await client.query(
        `INSERT INTO retention_progress (name, created_at, sha256) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO UPDATE SET created_at = excluded.created_at, sha256 = excluded.sha256`,
        [ORPHAN_SWEEP, last.at, last.sha256],
      );
      return { read: rows.length, deleted: gone.length };
    });
    deleted += batch.deleted;
    if (batch.read < batchSize) return { deleted, complete: true };
  }
}
