import type pg from 'pg';

/**
 * What the operator's message actions (hold, release, cancel, retry now) ask the queue
 * (write-side/admin/message-action-routes.ts). A lease has an owner; an ownerless lease_until is a
 * worker's "not before", which an action overrides.
 */

/** Whether a worker is delivering the message right now: its outcome comes before a "retry now". */
export async function isBeingDelivered(pool: pg.Pool, messageId: string): Promise<boolean> {
  const { rows } = await pool.query(
    'SELECT 1 FROM delivery_queue WHERE message_id = $1 AND lease_owner IS NOT NULL AND lease_until > now()',
    [messageId],
  );
  return rows.length > 0;
}

/** Which queued messages a bulk action applies to. */
export interface BulkSelection {
  servers: string[];
  /** held: waiting for release; queued: waiting for delivery (including deferred) */
  state: 'held' | 'queued';
  recipientDomain: string | null;
  /** null: any message */
  ids: string[] | null;
  limit: number;
}

/** The ids of the messages a bulk action applies to, in id order, up to the limit. */
export async function messagesForBulkAction(pool: pg.Pool, s: BulkSelection): Promise<string[]> {
  const { rows } = await pool.query<{ message_id: string }>(
    `SELECT message_id::text FROM delivery_queue
            WHERE server_id = ANY($1::uuid[])
              AND (CASE WHEN $2 = 'held' THEN due_at IS NULL ELSE due_at IS NOT NULL END)
              AND ($3::text IS NULL OR recipient_domain = lower($3))
              AND ($4::bigint[] IS NULL OR message_id = ANY($4::bigint[]))
              -- a message a worker is sending right now is left to it (an ownerless lease_until is
              -- only a delay, which the action overrides)
              AND (lease_owner IS NULL OR lease_until < now())
            ORDER BY message_id LIMIT $5`,
    [s.servers, s.state, s.recipientDomain, s.ids, s.limit],
  );
  return rows.map((r) => r.message_id);
}
