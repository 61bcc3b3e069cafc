import type pg from 'pg';

/** Addresses a server must not send to (bounces, complaints, unsubscribes, the API). */
export class SuppressionList {
  constructor(private readonly pool: pg.Pool) {}

  /** The suppressed ones among `addresses` (normalized, lower-case), with their reasons. */
  async suppressed(serverId: string, addresses: string[]): Promise<Map<string, string>> {
    if (addresses.length === 0) return new Map();
    const { rows } = await this.pool.query<{ address: string; reason: string }>(
      'SELECT address, reason FROM suppressions WHERE server_id = $1 AND address = ANY($2::text[]) AND (expires_at IS NULL OR expires_at > now())',
      [serverId, addresses],
    );
    return new Map(rows.map((r) => [r.address, r.reason]));
  }
}
