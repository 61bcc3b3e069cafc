import type pg from 'pg';

/** What admitting a request did to its window's counter. */
export interface Admission {
  /** How many of the request's messages are within the limit (the first ones). */
  within: number;
  /** Messages counted in the window before and after this request. */
  before: number;
  after: number;
  /** The start of the clock hour counted. */
  windowStart: Date;
}

/**
 * Per-server hourly send limits (Postal's "send limit"): counts messages accepted in the current
 * clock hour and says how many of a new request still fit; the rest are held, not refused.
 */
export class SendLimits {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Records `count` new messages: how many of them are within the limit, and the window's counts
   * before and after (the send-limit warnings are decided on them).
   */
  async admit(serverId: string, limitPerHour: number, count: number): Promise<Admission> {
    const { rows } = await this.pool.query<{ accepted: number; hour: Date }>(
      `INSERT INTO server_hourly_counts (server_id, hour, accepted) VALUES ($1, date_trunc('hour', now()), $2)
       ON CONFLICT (server_id, hour) DO UPDATE SET accepted = server_hourly_counts.accepted + excluded.accepted
       RETURNING accepted, hour`,
      [serverId, count],
    );
    const after = rows[0]!.accepted;
    const before = after - count;
    return { within: Math.max(0, Math.min(count, limitPerHour - before)), before, after, windowStart: rows[0]!.hour };
  }
}
