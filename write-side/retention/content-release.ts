import { systemClock } from '../../infra/clock/index.js';
import {
  bodiesAfter,
  deleteUnneeded,
  forgetDeletedCandidates,
  lockDueReleaseCandidates,
  lockSweepMark,
  postponeCandidates,
  saveSweepMark,
} from '../../infra/content/index.js';
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
      const hashes = await lockDueReleaseCandidates(client, now, batchSize);
      if (hashes.length === 0) return { read: 0, deleted: 0 };
      const gone = await deleteUnneeded(client, hashes, cutoff);
      await forgetDeletedCandidates(client, hashes);
      await postponeCandidates(client, hashes, now);
      return { read: hashes.length, deleted: gone.length };
    });
    deleted += batch.deleted;
    if (batch.read < batchSize) return { deleted, complete: true };
  }
}

/**
 * Bodies whose message never made it into the log (the append after the content write failed):
 * every body is looked at once, in (created_at, sha256) order, when it is older than the cutoff;
 * the sweep's position is kept (infra/content/content-retention.ts). A body rewritten later (the same bytes
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
      const mark = (await lockSweepMark(client, ORPHAN_SWEEP)) ?? { at: '-infinity', sha256: '' };
      const rows = await bodiesAfter(client, mark, cutoff, batchSize);
      if (rows.length === 0) return { read: 0, deleted: 0 };
      const gone = await deleteUnneeded(
        client,
        rows.map((r) => r.sha256),
        cutoff,
      );
      const last = rows[rows.length - 1]!;
      await saveSweepMark(client, ORPHAN_SWEEP, last);
      return { read: rows.length, deleted: gone.length };
    });
    deleted += batch.deleted;
    if (batch.read < batchSize) return { deleted, complete: true };
  }
}
