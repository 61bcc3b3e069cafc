import type pg from 'pg';
import { MicroBatcher } from '../batching/index.js';

/**
 * Addresses a server must not send to (bounces, complaints, unsubscribes, the API). Lookups of
 * concurrent requests share one query: every message asks.
 */
export class SuppressionList {
  private readonly lookups: MicroBatcher<{ serverId: string; address: string }, string | undefined>;

  constructor(private readonly pool: pg.Pool) {
    this.lookups = new MicroBatcher(async (items) => {
      const { rows } = await this.pool.query<{ server_id: string; address: string; reason: string }>(
        `SELECT s.server_id, s.address, s.reason FROM suppressions s
           JOIN unnest($1::uuid[], $2::text[]) AS q(server_id, address) ON s.server_id = q.server_id AND s.address = q.address
          WHERE s.expires_at IS NULL OR s.expires_at > now()`,
        [items.map((i) => i.serverId), items.map((i) => i.address)],
      );
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

  /** Puts an address on a server's suppression list (no-op when it is there already). */
  async add(serverId: string, address: string, reason: string): Promise<void> {
    await this.pool.query('INSERT INTO suppressions (server_id, address, reason) VALUES ($1, $2, $3) ON CONFLICT (server_id, address) DO NOTHING', [
      serverId,
      address.toLowerCase(),
      reason,
    ]);
  }
}
