import type pg from 'pg';
import { systemClock, type Clock } from '../../infra/clock/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { expireContent } from './content-expiry.js';
import { deletionCutoff, releaseCandidates, sweepOrphans } from './content-release.js';

const RETENTION_LOCK = 7_303_417_002;

export interface RetentionDeps {
  pool: pg.Pool;
  eventStore: EventStore;
  logger: Logger;
  /** How far (seconds) each named projection is behind the log (the projections' own status). */
  projectionLagSeconds: (names: string[]) => Promise<number[]>;
  /** "Now" for a run and for the projections' lag (default: the system clock). */
  clock?: Clock;
}

export interface RetentionOptions {
  /** Rows per read and per transaction. */
  batchSize?: number;
  /** A run stops starting new batches after this long; the next run goes on from there. */
  timeBudgetMs?: number;
}

export interface RetentionRun {
  /** False when another process was running retention at that moment (nothing was done). */
  ran: boolean;
  expired: number;
  contentsDeleted: number;
  /** False when the time budget ran out before everything due was done. */
  complete: boolean;
}

/**
 * Message retention (Postal #760, #1137): past its server's retention period a message's raw
 * content is deleted and a ContentExpired event marks the moment; the events stay, so auditors
 * keep the history while storage stops growing. Content shared by several messages goes only
 * when none of them still needs it.
 *
 * The work of a run is proportional to what became due, not to the size of the store: messages
 * are read per server in retention order, bodies are looked at when a message using them
 * expires and once after they were written (orphans), each in short transactions, so the log's
 * subscribers (which wait for every older write transaction) are never held up for long. One
 * process at a time (a session advisory lock).
 */
export async function runRetention(
  deps: RetentionDeps,
  now = (deps.clock ?? systemClock).now(),
  options: RetentionOptions = {},
): Promise<RetentionRun> {
  const batchSize = options.batchSize ?? 1000;
  const deadline = performance.now() + (options.timeBudgetMs ?? 5 * 60_000);
  // each step may use a share of what is left, so a backlog in one (expiring after retention_days
  // was lowered, the first sweep of a large store) does not keep the others from running
  const share = (fraction: number) => performance.now() + Math.max(0, deadline - performance.now()) * fraction;
  const lockClient = await deps.pool.connect();
  let broken: Error | undefined;
  let locked = false;
  try {
    locked =
      (await lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [RETENTION_LOCK])).rows[0]
        ?.ok === true;
    if (!locked) return { ran: false, expired: 0, contentsDeleted: 0, complete: true };
    const expiry = await expireContent(deps, now, batchSize, share(1 / 2));
    const cutoff = await deletionCutoff(deps, now);
    const released = await releaseCandidates(deps, now, cutoff, batchSize, share(1 / 2));
    const orphans = await sweepOrphans(deps, cutoff, batchSize, deadline);
    const run = {
      ran: true,
      expired: expiry.expired,
      contentsDeleted: released.deleted + orphans.deleted,
      complete: expiry.complete && released.complete && orphans.complete,
    };
    if (run.expired > 0 || run.contentsDeleted > 0 || !run.complete) {
      deps.logger.info(
        {
          expired: run.expired,
          contentsDeleted: run.contentsDeleted,
          complete: run.complete,
          orphansDeleted: orphans.deleted,
          deletableWrittenBefore: cutoff.toISOString(),
        },
        run.complete ? 'retention: message content removed' : 'retention: time budget used up, the next run goes on',
      );
    }
    return run;
  } finally {
    if (locked)
      await lockClient.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK]).catch((err: Error) => (broken = err));
    // a connection that could not unlock is closed: that ends its session and the lock with it
    lockClient.release(broken);
  }
}
