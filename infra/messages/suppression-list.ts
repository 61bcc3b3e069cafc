import type pg from 'pg';
import { MicroBatcher } from '../batching/index.js';

/**
 * Addresses a server must not send to (bounces, complaints, unsubscribes, the API). Lookups of
 * concurrent requests share one query: every message asks.
 */
export class SuppressionList {
  private readonly lookups: MicroBatcher<{ serverId: string; address: string }, string | undefined>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly defaultDays = 30,
  ) {
    this.lookups = new MicroBatcher(async (items) => {
      // a named statement: each connection parses and plans it once, not for every batch
      const { rows } = await this.pool.query<{ server_id: string; address: string; reason: string }>({
        name: 'postlog_suppressed',
        text: `SELECT s.server_id, s.address, s.reason FROM suppressions s
           JOIN unnest($1::uuid[], $2::text[]) AS q(server_id, address) ON s.server_id = q.server_id AND s.address = q.address
          WHERE s.expires_at IS NULL OR s.expires_at > now()`,
        values: [items.map((i) => i.serverId), items.map((i) => i.address)],
      });
      const found = new Map(rows.map((r) => [`${r.server_id} ${r.address}`, r.reason]));
      return items.map((i) => found.get(`${i.serverId} ${i.address}`));
    }, 1000);
  }

  /** The suppressed ones among `addresses` (normalized, lower-case), with their reasons. */
  async suppressed(serverId: string, addresses: string[]): Promise<Map<string, string>> {
    const reasons = await Promise.all(addresses.map((address) => this.lookups.call({ serverId, address })));
    const out = new Map<string, string>();
    addresses.forEach((a, i) => reasons[i] !== undefined && out.set(a, reasons[i]!));
    return out;
  }

  /**
   * Puts an address on a server's suppression list for `days` (default: the configured period;
   * null: forever). Adding it again renews the entry with the new reason.
   */
  async add(serverId: string, address: string, reason: string, days: number | null = this.defaultDays): Promise<void> {
    await this.pool.query(
      `INSERT INTO suppressions (server_id, address, reason, expires_at) VALUES ($1, $2, $3, CASE WHEN $4::int IS NULL THEN NULL ELSE now() + make_interval(days => $4::int) END)
       ON CONFLICT (server_id, address) DO UPDATE SET reason = excluded.reason, created_at = now(),
         -- the longer wins: a 30-day bounce entry never shortens a permanent unsubscribe
         expires_at = CASE WHEN suppressions.expires_at IS NULL OR excluded.expires_at IS NULL THEN NULL ELSE greatest(suppressions.expires_at, excluded.expires_at) END`,
      [serverId, address.toLowerCase(), reason.slice(0, 500), days],
    );
  }

  async remove(serverId: string, address: string): Promise<boolean> {
    const res = await this.pool.query('DELETE FROM suppressions WHERE server_id = $1 AND address = $2', [
      serverId,
      address.toLowerCase(),
    ]);
    return res.rowCount === 1;
  }

  /** Current entries, newest first; `after` is the last address of the previous page. */
  async list(
    serverId: string,
    options: { limit: number; before?: string | undefined; address?: string | undefined },
  ): Promise<{ address: string; reason: string; createdAt: string; expiresAt: string | null }[]> {
    const { rows } = await this.pool.query(
      `SELECT address, reason, created_at, expires_at FROM suppressions
        WHERE server_id = $1 AND (expires_at IS NULL OR expires_at > now())
          AND ($2::text IS NULL OR address < $2) AND ($3::text IS NULL OR address = lower($3))
        ORDER BY address DESC LIMIT $4`,
      [serverId, options.before ?? null, options.address ?? null, options.limit],
    );
    return rows.map((r) => ({
      address: r.address,
      reason: r.reason,
      createdAt: r.created_at.toISOString(),
      expiresAt: r.expires_at ? r.expires_at.toISOString() : null,
    }));
  }
}
