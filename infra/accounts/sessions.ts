import type pg from 'pg';
import { randomToken, sha256 } from '../tenancy/secrets.js';

export interface SessionPolicy {
  /** A session unused this long ends. */
  idleMs: number;
  /** A session ends this long after login, used or not. */
  absoluteMs: number;
}

export interface OpenedSession {
  /** The cookie's value: shown once, kept only as its SHA-256. */
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

export interface ActiveSession {
  userId: string;
  csrfToken: string;
  tokenHash: string;
}

/** last_seen_at is written at most this often per session: not one write per request. */
const TOUCH_EVERY_MS = 60_000;

/** Server-side sessions of dashboard users (one owner of user_sessions: this module). Time is passed in. */
export class SessionStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly policy: SessionPolicy,
  ) {}

  async open(userId: string, now: Date, client: { ip?: string; userAgent?: string } = {}): Promise<OpenedSession> {
    const token = randomToken(43);
    const csrfToken = randomToken(32);
    const expiresAt = new Date(now.getTime() + this.policy.absoluteMs);
    await this.pool.query(
      `INSERT INTO user_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, client_ip, user_agent)
       VALUES ($1, $2, $3, $4, $4, $5, $6, $7)`,
      [sha256(token), userId, csrfToken, now, expiresAt, client.ip ?? null, client.userAgent?.slice(0, 300) ?? null],
    );
    return { token, csrfToken, expiresAt };
  }

  /** The session a cookie names, if it is neither idle too long nor past its end, and its user is enabled. */
  async resolve(token: string, now: Date): Promise<ActiveSession | undefined> {
    const tokenHash = sha256(token);
    const { rows } = await this.pool.query<{ user_id: string; csrf_token: string; last_seen_at: Date }>(
      `SELECT s.user_id, s.csrf_token, s.last_seen_at
         FROM user_sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled_at IS NULL`,
      [tokenHash, now, new Date(now.getTime() - this.policy.idleMs)],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (now.getTime() - row.last_seen_at.getTime() > TOUCH_EVERY_MS)
      await this.pool.query('UPDATE user_sessions SET last_seen_at = $2 WHERE token_hash = $1', [tokenHash, now]);
    return { userId: row.user_id, csrfToken: row.csrf_token, tokenHash };
  }

  async close(token: string): Promise<void> {
    await this.pool.query('DELETE FROM user_sessions WHERE token_hash = $1', [sha256(token)]);
  }

  /** "Log out everywhere", and what a password change or reset does. Returns how many ended. */
  async closeAll(userId: string): Promise<number> {
    const r = await this.pool.query('DELETE FROM user_sessions WHERE user_id = $1', [userId]);
    return r.rowCount ?? 0;
  }

  /** Removes ended sessions (run now and then). */
  async sweep(now: Date): Promise<number> {
    const r = await this.pool.query('DELETE FROM user_sessions WHERE expires_at <= $1 OR last_seen_at <= $2', [
      now,
      new Date(now.getTime() - this.policy.idleMs),
    ]);
    return r.rowCount ?? 0;
  }
}
