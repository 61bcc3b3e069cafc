import type pg from 'pg';

/**
 * The queue per recipient domain: for the queue API (read-api/message-list-routes.ts) and the
 * queue-depth gauges (app/roles/gauges.ts).
 */

export interface QueueDestination {
  domain: string;
  /** due, never tried */
  queued: number;
  /** due again after a deferral */
  retrying: number;
  held: number;
  /** leased by a worker right now */
  sending: number;
  oldest_due: Date | null;
}

/** The 500 largest destinations of these servers (null: every server), largest first. */
export async function destinationsOf(pool: pg.Pool, servers: string[] | null): Promise<QueueDestination[]> {
  const { rows } = await pool.query<QueueDestination>(
    `SELECT recipient_domain AS domain,
                  count(*) FILTER (WHERE due_at IS NOT NULL AND attempts = 0)::int AS queued,
                  count(*) FILTER (WHERE due_at IS NOT NULL AND attempts > 0)::int AS retrying,
                  count(*) FILTER (WHERE due_at IS NULL)::int AS held,
                  count(*) FILTER (WHERE lease_owner IS NOT NULL AND lease_until > now())::int AS sending,
                  min(due_at) AS oldest_due
             FROM delivery_queue WHERE ($1::uuid[] IS NULL OR server_id = ANY($1::uuid[]))
            GROUP BY recipient_domain ORDER BY count(*) DESC LIMIT 500`,
    [servers],
  );
  return rows;
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
