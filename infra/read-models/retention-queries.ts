import type pg from 'pg';

/**
 * What content retention (write-side/retention/) asks the messages read model: which messages'
 * content may expire, and whether a message still uses a body.
 */

/** A message whose content may expire: its id and acceptance time as text, and its body's hash. */
export interface ExpirableMessage {
  id: string;
  direction: 'outgoing' | 'incoming';
  at: string;
  content_hash: string;
}

/**
 * A server's messages accepted before `cutoff` whose content has not expired yet and whose status
 * is one of `statuses`, in (accepted_at, message_id) order after `after`, up to `limit`.
 */
export async function expirableMessages(
  pool: pg.Pool,
  serverId: string,
  cutoff: string,
  statuses: string[],
  after: { at: string; id: string },
  limit: number,
): Promise<ExpirableMessage[]> {
  const { rows } = await pool.query<ExpirableMessage>(
    // accepted_at as text: a JavaScript Date would drop its microseconds and the walk could stall
    `SELECT message_id::text AS id, direction, accepted_at::text AS at, content_hash
           FROM rm_messages
          WHERE server_id = $1 AND NOT content_expired AND accepted_at < $2
            AND status = ANY($3::text[])
            AND (accepted_at, message_id) > ($4::timestamptz, $5::bigint)
          ORDER BY accepted_at, message_id LIMIT $6`,
    [serverId, cutoff, statuses, after.at, after.id, limit],
  );
  return rows;
}

/**
 * SQL that is true while a message of the read model whose content has not expired uses the body
 * whose hash is the SQL expression `hash`: content retention keeps such a body
 * (infra/content/content-retention.ts). A fragment, so that retention's deletion stays one statement.
 */
export const readModelMessageNeeds = (hash: string): string =>
  `EXISTS (SELECT 1 FROM rm_messages m WHERE m.content_hash = ${hash} AND NOT m.content_expired)`;
