import type pg from 'pg';
import type { OrgRole } from '../../domain/index.js';
import { randomToken, sha256 } from '../tenancy/secrets.js';

export type UserTokenKind = 'invitation' | 'password-reset';

export interface UserToken {
  kind: UserTokenKind;
  email: string;
  userId: string | null;
  organizationId: string | null;
  role: OrgRole | null;
  createdBy: string;
  expiresAt: Date;
}

/** One-time links: invitations and password resets (one owner of user_tokens: this module). */
export class UserTokenStore {
  constructor(private readonly pool: pg.Pool) {}

  /** A new token; the link carries it, the table only its SHA-256. */
  async issue(t: UserToken, now: Date): Promise<string> {
    const token = randomToken(43);
    await this.pool.query(
      `INSERT INTO user_tokens (token_hash, kind, email, user_id, organization_id, role, created_by, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [sha256(token), t.kind, t.email, t.userId, t.organizationId, t.role, t.createdBy, now, t.expiresAt],
    );
    return token;
  }

  /**
   * Uses a token once: the row is marked used in the same statement that reads it, so two
   * concurrent uses cannot both succeed.
   */
  async consume(token: string, kind: UserTokenKind, now: Date): Promise<UserToken | undefined> {
    const { rows } = await this.pool.query<{
      email: string;
      user_id: string | null;
      organization_id: string | null;
      role: OrgRole | null;
      created_by: string;
      expires_at: Date;
    }>(
      `UPDATE user_tokens SET used_at = $3
        WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3
        RETURNING email, user_id, organization_id, role, created_by, expires_at`,
      [sha256(token), kind, now],
    );
    const r = rows[0];
    return r
      ? {
          kind,
          email: r.email,
          userId: r.user_id,
          organizationId: r.organization_id,
          role: r.role,
          createdBy: r.created_by,
          expiresAt: r.expires_at,
        }
      : undefined;
  }

  /** Whether a token is still usable, without using it (the page that asks for a new password). */
  async peek(token: string, kind: UserTokenKind, now: Date): Promise<{ email: string } | undefined> {
    const { rows } = await this.pool.query<{ email: string }>(
      'SELECT email FROM user_tokens WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3',
      [sha256(token), kind, now],
    );
    return rows[0];
  }
}
