import type pg from 'pg';
import { keptStateOf, type KeptState } from './kept-state.js';

/** A queue row leased to a worker: what it needs to deliver the message. */
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
  /**
   * The message's state as the queue projection folded it, and the stream revision it folded to
   * (schema.ts, migration 47); undefined when not kept or kept in another version's shape.
   */
  kept?: KeptState;
}

/**
 * Up to $3 due messages leased to $1 for $2 seconds (the lease function, schema.ts): first rows
 * whose lease ran out or whose release delay passed, then free rows, each oldest due first and
 * read in its index's order, never the rows other leases hold.
 */
const LEASE_STATEMENT = 'SELECT * FROM postlog_lease_deliveries($1, $2, $3)';

/** Leases up to `limit` due messages to `owner` for `leaseSeconds`. */
export async function leaseDeliveries(
  pool: pg.Pool,
  owner: string,
  limit: number,
  leaseSeconds: number,
): Promise<LeasedMessage[]> {
  // named: each connection plans the call once
  const { rows } = await pool.query({
    name: 'postlog_lease_deliveries',
    text: LEASE_STATEMENT,
    values: [owner, leaseSeconds, limit],
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
    ...keptOf(r.state, r.revision as string | null),
  }));
}

function keptOf(column: unknown, revision: string | null): Pick<LeasedMessage, 'kept'> {
  const kept = keptStateOf(column, revision);
  return kept ? { kept } : {};
}

/**
 * Gives a message `owner` holds back without an outcome, due again at once or, with
 * `afterSeconds`, not before then (an ownerless lease_until is such a delay).
 */
export async function releaseDelivery(
  pool: pg.Pool,
  owner: string,
  messageId: string,
  afterSeconds: number,
): Promise<void> {
  await pool.query(
    'UPDATE delivery_queue SET lease_owner = NULL, lease_until = CASE WHEN $3 > 0 THEN now() + make_interval(secs => $3) END WHERE message_id = $1 AND lease_owner = $2',
    [messageId, owner, afterSeconds],
  );
}

/** Extends the leases `owner` still holds on these messages. */
export async function renewLeases(
  pool: pg.Pool,
  owner: string,
  messageIds: string[],
  leaseSeconds: number,
): Promise<void> {
  if (messageIds.length === 0) return;
  await pool.query(
    'UPDATE delivery_queue SET lease_until = now() + make_interval(secs => $3) WHERE lease_owner = $1 AND message_id = ANY($2::bigint[])',
    [owner, messageIds, leaseSeconds],
  );
}
