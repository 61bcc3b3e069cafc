// biome-ignore-all lint/suspicious/noExplicitAny: the row mappers take pg rows, which are untyped; each mapper is where a row gets its type
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { laterReleaseCandidates } from '../content/release-candidates.js';

export interface Route {
  id: string;
  serverId: string;
  address: string;
  endpointUrl: string;
  format: 'json' | 'raw';
  createdAt: string;
}

export interface RouteDelivery {
  id: number;
  routeId: string;
  mailFrom: string;
  rcptTo: string;
  receivedAt: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastResponse: string | null;
  deliveredAt: string | null;
}

const toRoute = (r: any): Route => ({
  id: r.id,
  serverId: r.server_id,
  address: r.address,
  endpointUrl: r.endpoint_url,
  format: r.format,
  createdAt: r.created_at.toISOString(),
});
const toDelivery = (r: any): RouteDelivery => ({
  id: Number(r.id),
  routeId: r.route_id,
  mailFrom: r.mail_from,
  rcptTo: r.rcpt_to,
  receivedAt: r.received_at.toISOString(),
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
  lastStatusCode: r.last_status_code,
  lastResponse: r.last_response,
  deliveredAt: r.delivered_at ? r.delivered_at.toISOString() : null,
});

/** Routes (inbound addresses → HTTP endpoints) and their delivery log. */
export class RouteStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(
    serverId: string,
    address: string,
    endpointUrl: string,
    format: 'json' | 'raw',
  ): Promise<Route | 'taken'> {
    const { rows } = await this.pool.query(
      'INSERT INTO routes (id, server_id, address, endpoint_url, format) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (address) DO NOTHING RETURNING *',
      [randomUUID(), serverId, address.toLowerCase(), endpointUrl, format],
    );
    return rows[0] ? toRoute(rows[0]) : 'taken';
  }

  async list(serverId: string): Promise<Route[]> {
    return (await this.pool.query('SELECT * FROM routes WHERE server_id = $1 ORDER BY address', [serverId])).rows.map(
      toRoute,
    );
  }

  async get(id: string): Promise<Route | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM routes WHERE id = $1', [id]);
    return rows[0] ? toRoute(rows[0]) : undefined;
  }

  async remove(id: string): Promise<void> {
    await this.pool.query('DELETE FROM routes WHERE id = $1', [id]);
  }

  /** The route for an address: the exact address first, then the domain's wildcard. */
  async match(address: string): Promise<Route | undefined> {
    const lower = address.toLowerCase();
    const domain = lower.slice(lower.lastIndexOf('@') + 1);
    const { rows } = await this.pool.query(
      'SELECT * FROM routes WHERE address = $1 OR address = $2 ORDER BY (address = $1) DESC LIMIT 1',
      [lower, `*@${domain}`],
    );
    return rows[0] ? toRoute(rows[0]) : undefined;
  }

  async enqueue(routeId: string, contentSha256: string, mailFrom: string, rcptTo: string): Promise<number> {
    const { rows } = await this.pool.query(
      'INSERT INTO route_deliveries (route_id, content_sha256, mail_from, rcpt_to) VALUES ($1, $2, $3, $4) RETURNING id',
      [routeId, contentSha256, mailFrom, rcptTo],
    );
    return Number(rows[0].id);
  }

  async deliveries(routeId: string, limit: number): Promise<RouteDelivery[]> {
    return (
      await this.pool.query('SELECT * FROM route_deliveries WHERE route_id = $1 ORDER BY id DESC LIMIT $2', [
        routeId,
        limit,
      ])
    ).rows.map(toDelivery);
  }

  /** Takes due deliveries for `leaseSeconds` (workers in several processes share the queue). */
  async lease(
    limit: number,
    leaseSeconds: number,
  ): Promise<(RouteDelivery & { route: Route; contentSha256: string })[]> {
    const { rows } = await this.pool.query(
      `UPDATE route_deliveries d SET next_attempt_at = now() + make_interval(secs => $2)
        WHERE d.id IN (SELECT id FROM route_deliveries WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING d.*`,
      [limit, leaseSeconds],
    );
    const out = [];
    for (const r of rows) {
      const route = await this.get(r.route_id);
      if (route) out.push({ ...toDelivery(r), route, contentSha256: r.content_sha256 });
    }
    return out;
  }

  /**
   * Records an attempt. A delivery that ends (delivered or failed) makes its body a release
   * candidate a day later (retention deletes it then unless something else needs it): while the
   * delivery was pending, retention kept the body and its orphan sweep went past it.
   */
  async settle(
    id: number,
    outcome: {
      status: 'delivered' | 'pending' | 'failed';
      code: number | null;
      response: string;
      retryInSeconds?: number;
    },
  ): Promise<void> {
    // the bodies of the deliveries that ended, looked at a day from now
    const ended = `SELECT content_sha256, now() + interval '1 day' FROM settled WHERE status <> 'pending'`;
    await this.pool.query(
      `WITH settled AS (
         UPDATE route_deliveries SET status = $2, attempts = attempts + 1, last_status_code = $3, last_response = $4,
                next_attempt_at = CASE WHEN $2 = 'pending' THEN now() + make_interval(secs => $5) ELSE next_attempt_at END,
                delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END
          WHERE id = $1
          RETURNING content_sha256, status)
       ${laterReleaseCandidates(ended)}`,
      [id, outcome.status, outcome.code, outcome.response.slice(0, 1000), outcome.retryInSeconds ?? 0],
    );
  }

  async retryNow(id: number, routeIds: string[]): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE route_deliveries SET status = 'pending', next_attempt_at = now() WHERE id = $1 AND route_id = ANY($2::uuid[]) AND status <> 'pending'`,
      [id, routeIds],
    );
    return r.rowCount === 1;
  }
}
