// biome-ignore-all lint/suspicious/noExplicitAny: the row mappers take pg rows, which are untyped; each mapper is where a row gets its type
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { laterReleaseCandidates } from '../content/release-candidates.js';
import { inTransaction } from '../postgres/transaction.js';

export type RouteMode = 'endpoint' | 'accept' | 'hold' | 'bounce' | 'reject';
export type SpamMode = 'mark' | 'quarantine' | 'fail';

/** Where a route hands its mail: an HTTP URL, another SMTP server (host:port), or an address. */
export interface RouteEndpoint {
  id: string;
  kind: 'http' | 'smtp' | 'address';
  target: string;
  /** HTTP only: Postal's JSON, the same fields as a form, or the raw message. */
  format: 'json' | 'form' | 'raw';
  includeAttachments: boolean;
  /** HTTP only: the plain body without the quoted reply below it (Postal's "strip replies"). */
  stripReplies: boolean;
  timeoutSeconds: number;
}
export type NewRouteEndpoint = Omit<RouteEndpoint, 'id'>;

export interface Route {
  id: string;
  serverId: string;
  address: string;
  mode: RouteMode;
  spamMode: SpamMode;
  endpoints: RouteEndpoint[];
  createdAt: string;
}

export interface RouteSettings {
  mode: RouteMode;
  spamMode: SpamMode;
  endpoints: NewRouteEndpoint[];
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

const toEndpoint = (e: any): RouteEndpoint => ({
  id: e.id,
  kind: e.kind,
  target: e.target,
  format: e.format,
  includeAttachments: e.include_attachments,
  stripReplies: e.strip_replies,
  timeoutSeconds: e.timeout_seconds,
});
const toRoute = (r: any, endpoints: any[]): Route => ({
  id: r.id,
  serverId: r.server_id,
  address: r.address,
  mode: r.mode,
  spamMode: r.spam_mode,
  endpoints: endpoints.filter((e) => e.route_id === r.id).map(toEndpoint),
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

/**
 * Routes (inbound addresses → their mode and endpoints), and the delivery log of mail received
 * before routes had modes (route_deliveries; endpoint-queue.ts holds the queue since).
 */
export class RouteStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(serverId: string, address: string, settings: RouteSettings): Promise<Route | 'taken'> {
    return inTransaction(this.pool, async (c) => {
      const { rows } = await c.query(
        `INSERT INTO routes (id, server_id, address, format, mode, spam_mode) VALUES ($1, $2, $3, 'json', $4, $5)
           ON CONFLICT (address) DO NOTHING RETURNING *`,
        [randomUUID(), serverId, address.toLowerCase(), settings.mode, settings.spamMode],
      );
      if (!rows[0]) return 'taken';
      await this.writeEndpoints(c, rows[0].id, settings.endpoints);
      return (await this.routesWhere(c, 'id = $1', [rows[0].id]))[0]!;
    });
  }

  /** Changes a route's mode, spam mode and endpoints (endpoints are replaced when given). */
  async update(id: string, settings: Partial<RouteSettings>): Promise<Route | undefined> {
    return inTransaction(this.pool, async (c) => {
      const { rowCount } = await c.query(
        'UPDATE routes SET mode = coalesce($2, mode), spam_mode = coalesce($3, spam_mode) WHERE id = $1',
        [id, settings.mode ?? null, settings.spamMode ?? null],
      );
      if (rowCount !== 1) return undefined;
      if (settings.endpoints) {
        await c.query('DELETE FROM route_endpoints WHERE route_id = $1', [id]);
        await this.writeEndpoints(c, id, settings.endpoints);
      }
      return (await this.routesWhere(c, 'id = $1', [id]))[0];
    });
  }

  async list(serverId: string): Promise<Route[]> {
    return this.routesWhere(this.pool, 'server_id = $1', [serverId]);
  }

  async get(id: string): Promise<Route | undefined> {
    return (await this.routesWhere(this.pool, 'id = $1', [id]))[0];
  }

  async remove(id: string): Promise<void> {
    await this.pool.query('DELETE FROM routes WHERE id = $1', [id]);
  }

  /** The route for an address: the exact address first, then the domain's wildcard. */
  async match(address: string): Promise<Route | undefined> {
    const lower = address.toLowerCase();
    const domain = lower.slice(lower.lastIndexOf('@') + 1);
    const [route] = await this.routesWhere(
      this.pool,
      'address = $1 OR address = $2 ORDER BY (address = $1) DESC LIMIT 1',
      [lower, `*@${domain}`],
    );
    return route;
  }

  /** An endpoint as it is configured now, with its route (undefined: removed since). */
  async endpoint(id: string): Promise<RouteEndpoint | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM route_endpoints WHERE id = $1', [id]);
    return rows[0] ? toEndpoint(rows[0]) : undefined;
  }

  private async routesWhere(db: pg.Pool | pg.PoolClient, where: string, params: unknown[]): Promise<Route[]> {
    const { rows } = await db.query(`SELECT * FROM routes WHERE ${where}`, params);
    if (rows.length === 0) return [];
    const endpoints = await db.query(
      'SELECT * FROM route_endpoints WHERE route_id = ANY($1::uuid[]) ORDER BY position, created_at',
      [rows.map((r) => r.id)],
    );
    const routes = rows.map((r) => toRoute(r, endpoints.rows));
    return where.includes('ORDER BY') ? routes : routes.sort((a, b) => a.address.localeCompare(b.address));
  }

  private async writeEndpoints(c: pg.PoolClient, routeId: string, endpoints: NewRouteEndpoint[]): Promise<void> {
    for (const [position, e] of endpoints.entries())
      await c.query(
        `INSERT INTO route_endpoints (id, route_id, position, kind, target, format, include_attachments, strip_replies, timeout_seconds)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          randomUUID(),
          routeId,
          position,
          e.kind,
          e.target,
          e.format,
          e.includeAttachments,
          e.stripReplies,
          e.timeoutSeconds,
        ],
      );
  }

  /** A row in the queue of mail received before routes had modes: only tests make new ones now. */
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
  ): Promise<(RouteDelivery & { endpointUrl: string; format: 'json' | 'raw'; contentSha256: string })[]> {
    const { rows } = await this.pool.query(
      `UPDATE route_deliveries d SET next_attempt_at = now() + make_interval(secs => $2)
        WHERE d.id IN (SELECT id FROM route_deliveries WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING d.*`,
      [limit, leaseSeconds],
    );
    if (rows.length === 0) return [];
    // the endpoint these rows were received for: the route's own URL of migration 8
    const routes = await this.pool.query('SELECT id, endpoint_url, format FROM routes WHERE id = ANY($1::uuid[])', [
      rows.map((r) => r.route_id),
    ]);
    const byId = new Map(routes.rows.map((r) => [r.id, r]));
    return rows
      .filter((r) => byId.get(r.route_id)?.endpoint_url)
      .map((r) => ({
        ...toDelivery(r),
        endpointUrl: byId.get(r.route_id).endpoint_url,
        format: byId.get(r.route_id).format,
        contentSha256: r.content_sha256,
      }));
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
