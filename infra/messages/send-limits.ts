import type pg from 'pg';

/**
 * Per-server hourly send limits (Postal's "send limit"): counts messages accepted in the current
 * clock hour and says how many of a new request still fit; the rest are held, not refused.
 */
export class SendLimits {
  constructor(private readonly pool: pg.Pool) {}

  /** Records `count` new messages and returns how many of them are within the limit. */
  async admit(serverId: string, limitPerHour: number, count: number): Promise<number> {
    const { rows } = await this.pool.query<{ accepted: number }>(
      `INSERT INTO server_hourly_counts (server_id, hour, accepted) VALUES ($1, date_trunc('hour', now()), $2)
       ON CONFLICT (server_id, hour) DO UPDATE SET accepted = server_hourly_counts.accepted + excluded.accepted
       RETURNING accepted`,
      [serverId, count],
    );
    const after = rows[0]!.accepted;
    const before = after - count;
    return Math.max(0, Math.min(count, limitPerHour - before));
  }
}
