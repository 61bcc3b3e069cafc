// biome-ignore-all lint/suspicious/noExplicitAny: the row mappers take pg rows, which are untyped; each mapper is where a row gets its type
import type pg from 'pg';

/**
 * The queue of incoming messages handed to route endpoints, one row per (message, endpoint). The
 * endpoint-queue projection (projections/inbound/endpoint-queue-projection.ts) writes it from the
 * log; the dispatchers lease rows from it (the lease is theirs, not the log's). Every statement on
 * endpoint_deliveries is here.
 */
export const ENDPOINT_DELIVERIES = 'endpoint_deliveries';

export interface QueuedEndpointDelivery {
  messageId: number;
  endpointId: string;
  routeId: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  dueAt: string | null;
  lastCode: number | null;
  lastResponse: string | null;
  lastAttemptAt: string | null;
}

const toQueued = (r: any): QueuedEndpointDelivery => ({
  messageId: Number(r.message_id),
  endpointId: r.endpoint_id,
  routeId: r.route_id,
  status: r.status,
  attempts: r.attempts,
  dueAt: r.status === 'pending' ? r.due_at.toISOString() : null,
  lastCode: r.last_code,
  lastResponse: r.last_response,
  lastAttemptAt: r.last_attempt_at ? r.last_attempt_at.toISOString() : null,
});

/** Rows the projection writes: new routings, and the state after an attempt or a retry request. */
export interface EndpointRowChange {
  messageId: number;
  endpointId: string;
  routeId?: string;
  contentHash?: string;
  status: 'pending' | 'delivered' | 'failed';
  /** Attempts recorded in this batch. */
  addAttempts: number;
  dueAt: string;
  lastCode?: number | null;
  lastResponse?: string | null;
  lastAttemptAt?: string | null;
}

/** The projection's write of a batch: one statement, whatever its size. */
export async function writeEndpointRows(
  client: pg.ClientBase,
  table: string,
  rows: EndpointRowChange[],
): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (r: EndpointRowChange) => T) => rows.map(f);
  await client.query(
    `INSERT INTO ${table} AS d (message_id, endpoint_id, route_id, content_hash, status, attempts, due_at, last_code, last_response, last_attempt_at)
       SELECT m, e, coalesce(r, '00000000-0000-0000-0000-000000000000'), coalesce(h, ''), s, a, du, lc, lr, la
         FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::timestamptz[],
                     $8::int[], $9::text[], $10::timestamptz[]) AS x(m, e, r, h, s, a, du, lc, lr, la)
       ON CONFLICT (message_id, endpoint_id) DO UPDATE SET
         status = excluded.status,
         attempts = d.attempts + excluded.attempts,
         due_at = excluded.due_at,
         lease_until = NULL,
         last_code = CASE WHEN excluded.last_attempt_at IS NULL THEN d.last_code ELSE excluded.last_code END,
         last_response = CASE WHEN excluded.last_attempt_at IS NULL THEN d.last_response ELSE excluded.last_response END,
         last_attempt_at = coalesce(excluded.last_attempt_at, d.last_attempt_at)`,
    [
      col((r) => r.messageId),
      col((r) => r.endpointId),
      col((r) => r.routeId ?? null),
      col((r) => r.contentHash ?? null),
      col((r) => r.status),
      col((r) => r.addAttempts),
      col((r) => r.dueAt),
      col((r) => r.lastCode ?? null),
      col((r) => r.lastResponse ?? null),
      col((r) => r.lastAttemptAt ?? null),
    ],
  );
}

export async function emptyEndpointQueue(client: pg.ClientBase, table: string): Promise<void> {
  await client.query(`TRUNCATE ${table}`);
}

/** The queue's reading and leasing, for the dispatchers and the API. */
export class EndpointQueue {
  constructor(private readonly pool: pg.Pool) {}

  /** Takes due deliveries for `leaseSeconds` (dispatchers in several processes share the queue). */
  async lease(limit: number, leaseSeconds: number): Promise<QueuedEndpointDelivery[]> {
    const { rows } = await this.pool.query(
      `UPDATE endpoint_deliveries d SET lease_until = now() + make_interval(secs => $2)
        WHERE (d.message_id, d.endpoint_id) IN (
          SELECT message_id, endpoint_id FROM endpoint_deliveries
           WHERE status = 'pending' AND due_at <= now() AND (lease_until IS NULL OR lease_until < now())
           ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING d.*`,
      [limit, leaseSeconds],
    );
    return rows.map(toQueued);
  }

  /** A route's deliveries, newest message first. */
  async ofRoute(routeId: string, limit: number): Promise<QueuedEndpointDelivery[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM endpoint_deliveries WHERE route_id = $1 ORDER BY message_id DESC, endpoint_id LIMIT $2',
      [routeId, limit],
    );
    return rows.map(toQueued);
  }

  /** A message's deliveries, one per endpoint. */
  async ofMessage(messageId: number): Promise<QueuedEndpointDelivery[]> {
    const { rows } = await this.pool.query('SELECT * FROM endpoint_deliveries WHERE message_id = $1', [messageId]);
    return rows.map(toQueued);
  }
}
