import type pg from 'pg';

export interface LeasedMessage {
  messageId: string;
  serverId: string;
  mailFrom: string;
  rcptTo: string;
  recipientDomain: string;
  contentHash: string;
  token: string;
  attempts: number;
  acceptedAt: Date;
}

/**
 * Up to $3 due messages leased to $1 for $2 seconds (migrations 13 and 14): first rows whose lease
 * ran out or whose release delay passed, then free rows, each oldest due first and read in its
 * index's order, never the rows other leases hold.
 */
const LEASE_STATEMENT = 'SELECT * FROM postlog_lease_deliveries($1, $2, $3)';

/**
 * MTA workers share the queue through row leases: `FOR UPDATE SKIP LOCKED` hands each due row to
 * exactly one worker, and a lease that runs out (the worker died) returns it to the queue.
 */
export class DeliveryQueue {
  constructor(
    private readonly pool: pg.Pool,
    private readonly owner: string,
  ) {}

  async lease(limit: number, leaseSeconds: number): Promise<LeasedMessage[]> {
    // named: each connection plans the call once
    const { rows } = await this.pool.query({
      name: 'postlog_lease_deliveries',
      text: LEASE_STATEMENT,
      values: [this.owner, leaseSeconds, limit],
    });
    return rows.map((r) => ({
      messageId: String(r.message_id),
      serverId: r.server_id,
      mailFrom: r.mail_from,
      rcptTo: r.rcpt_to,
      recipientDomain: r.recipient_domain,
      contentHash: r.content_hash,
      token: r.token,
      attempts: r.attempts,
      acceptedAt: r.accepted_at,
    }));
  }

  /** Gives a message back without an outcome (e.g. shutting down, or not deliverable now). */
  async release(messageId: string, afterSeconds = 0): Promise<void> {
    await this.pool.query(
      'UPDATE delivery_queue SET lease_owner = NULL, lease_until = CASE WHEN $3 > 0 THEN now() + make_interval(secs => $3) END WHERE message_id = $1 AND lease_owner = $2',
      [messageId, this.owner, afterSeconds],
    );
  }

  /** Extends this worker's leases on messages it still holds (waiting in memory or being sent). */
  async renew(messageIds: string[], leaseSeconds: number): Promise<void> {
    if (messageIds.length === 0) return;
    await this.pool.query(
      'UPDATE delivery_queue SET lease_until = now() + make_interval(secs => $3) WHERE lease_owner = $1 AND message_id = ANY($2::bigint[])',
      [this.owner, messageIds, leaseSeconds],
    );
  }
}

/** Messages waiting per recipient domain (held ones apart), the `limit` largest destinations first. */
export async function depthByDestination(
  pool: pg.Pool,
  limit: number,
): Promise<{ destination: string; queued: number; held: number }[]> {
  const { rows } = await pool.query<{ recipient_domain: string; queued: number; held: number }>(
    `SELECT recipient_domain,
            count(*) FILTER (WHERE due_at IS NOT NULL)::int AS queued,
            count(*) FILTER (WHERE due_at IS NULL)::int AS held
       FROM delivery_queue GROUP BY recipient_domain ORDER BY count(*) DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ destination: r.recipient_domain, queued: r.queued, held: r.held }));
}
