/** What the last lease of the delivery queue found, and the worker's settings. */
export interface LeaseRound {
  /** Rows the lease asked for (the worker's room, at most a batch); 0: no room, no lease. */
  asked: number;
  /** Rows it got. */
  taken: number;
  /** Messages the worker holds now, and how many it may. */
  inFlight: number;
  maxInFlight: number;
  pollMs: number;
}

/** The pause after a lease that took every due row there was (never more than pollMs). */
export const LEASE_LINGER_MS = 20;

/**
 * When the MTA worker leases next: at once while the queue has more due rows than a lease took;
 * after a short linger when a lease took every due row there was; after the poll interval when there
 * was none, or the worker has no room.
 *
 * The linger is for a queue kept up with: its projection adds rows in bursts (a batch of the log at
 * a time), and a lease costs PostgreSQL nearly as much for one row as for twenty. Leasing again at
 * once took the head of each burst a few rows at a time: 8 rows per lease at ~420 messages/s, ~110 µs
 * of PostgreSQL per message (pg_stat_statements). With 20 ms, A/B of the `delivery` bench at 3 KB
 * (2 pairs, one hour): Postlog's own CPU per message 3,406 / 3,435 against 3,808 / 3,562 µs.
 */
export function nextLeaseInMs(r: LeaseRound): number {
  if (r.taken === 0 || r.inFlight >= r.maxInFlight) return r.pollMs;
  if (r.taken < r.asked) return Math.min(LEASE_LINGER_MS, r.pollMs);
  return 0;
}
