import type pg from 'pg';
import { leaseDeliveries, releaseDelivery, renewLeases, type LeasedMessage } from '../../infra/delivery-queue/index.js';

export type { LeasedMessage } from '../../infra/delivery-queue/index.js';

/**
 * MTA workers share the queue through row leases: `FOR UPDATE SKIP LOCKED` hands each due row to
 * exactly one worker, and a lease that runs out (the worker died) returns it to the queue. The
 * statements are in infra/delivery-queue/.
 */
export class DeliveryQueue {
  constructor(
    private readonly pool: pg.Pool,
    private readonly owner: string,
  ) {}

  /**
   * Up to `limit` due messages, leased for `leaseSeconds`: first rows whose lease ran out or whose
   * release delay passed, then free rows, each oldest due first, never the rows other leases hold.
   */
  lease(limit: number, leaseSeconds: number): Promise<LeasedMessage[]> {
    return leaseDeliveries(this.pool, this.owner, limit, leaseSeconds);
  }

  /** Gives a message back without an outcome (e.g. shutting down, or not deliverable now). */
  release(messageId: string, afterSeconds = 0): Promise<void> {
    return releaseDelivery(this.pool, this.owner, messageId, afterSeconds);
  }

  /** Extends this worker's leases on messages it still holds (waiting in memory or being sent). */
  renew(messageIds: string[], leaseSeconds: number): Promise<void> {
    return renewLeases(this.pool, this.owner, messageIds, leaseSeconds);
  }
}
