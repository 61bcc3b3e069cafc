import type pg from 'pg';

/** An address's warm-up start and today's counts per provider. */
export interface WarmupRecord {
  address: string;
  pool: string;
  /** YYYY-MM-DD (UTC). */
  startedOn: string;
  sentToday: Record<string, number>;
}

/** Warm-up starts and daily counts (ip_warmup_starts, ip_warmup_counts): shared by every MTA process. */
export class WarmupStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Records the addresses not seen before as starting today (`today`: YYYY-MM-DD); the others keep their day. */
  async recordAddresses(addresses: { address: string; pool: string }[], today: string): Promise<void> {
    if (addresses.length === 0) return;
    await this.pool.query(
      `INSERT INTO ip_warmup_starts (address, pool, started_on)
         SELECT a, p, $3::date FROM unnest($1::text[], $2::text[]) AS t(a, p)
       ON CONFLICT (address) DO NOTHING`,
      [addresses.map((a) => a.address), addresses.map((a) => a.pool), today],
    );
  }

  /** The recorded start of each address (YYYY-MM-DD). */
  async starts(): Promise<Map<string, string>> {
    const { rows } = await this.pool.query<{ address: string; started_on: string }>(
      `SELECT address, to_char(started_on, 'YYYY-MM-DD') AS started_on FROM ip_warmup_starts`,
    );
    return new Map(rows.map((r) => [r.address, r.started_on]));
  }

  /**
   * Takes one message of today's allowance of an address for a provider: true when it was within
   * the allowance (one statement, so MTA processes sharing the address never exceed it together).
   */
  async reserve(address: string, provider: string, day: string, allowance: number): Promise<boolean> {
    if (allowance <= 0) return false;
    const { rowCount } = await this.pool.query(
      `INSERT INTO ip_warmup_counts AS c (address, provider, day, sent) VALUES ($1, $2, $3, 1)
       ON CONFLICT (address, day, provider) DO UPDATE SET sent = c.sent + 1 WHERE c.sent < $4
       RETURNING sent`,
      [address, provider, day, allowance],
    );
    return rowCount === 1;
  }

  /** Every recorded address with its counts of `day`. */
  async records(day: string): Promise<WarmupRecord[]> {
    const { rows } = await this.pool.query<{
      address: string;
      pool: string;
      started_on: string;
      counts: Record<string, number> | null;
    }>(
      `SELECT s.address, s.pool, to_char(s.started_on, 'YYYY-MM-DD') AS started_on,
              (SELECT jsonb_object_agg(c.provider, c.sent) FROM ip_warmup_counts c
                WHERE c.address = s.address AND c.day = $1::date) AS counts
         FROM ip_warmup_starts s ORDER BY s.address`,
      [day],
    );
    return rows.map((r) => ({ address: r.address, pool: r.pool, startedOn: r.started_on, sentToday: r.counts ?? {} }));
  }

  /** Counts older than `before` (YYYY-MM-DD) are of no use: the allowance is per day. */
  async forgetBefore(before: string): Promise<void> {
    await this.pool.query(`DELETE FROM ip_warmup_counts WHERE day < $1::date`, [before]);
  }
}
