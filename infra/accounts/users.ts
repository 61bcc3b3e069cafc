import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Membership, OrgRole, User } from '../../domain/index.js';
import { err, ok, type Result } from '../../domain/result.js';
import { openSealed, type SecretBox } from '../secrets/index.js';
import { totpSecretContext } from './sealed-secrets.js';

export type AccountError =
  | { code: 'NOT_FOUND'; message: string }
  | { code: 'CONFLICT'; message: string }
  | { code: 'INVALID'; message: string; field?: string };

interface UserRow {
  id: string;
  email: string;
  password_hash: string | null;
  global_admin: boolean;
  totp_secret: string | null;
  totp_secret_sealed: string | null;
  totp_enabled: boolean;
  disabled_at: Date | null;
  created_at: Date;
  memberships: Membership[] | null;
}

/** A user as the store knows it: the public view plus what login needs. */
export interface StoredUser extends User {
  passwordHash: string | null;
  totpSecret: string | null;
}

const SELECT = `
  SELECT u.*, (SELECT json_agg(json_build_object('organizationId', m.organization_id, 'organizationName', o.name,
                                                 'role', m.role) ORDER BY o.name)
                 FROM memberships m JOIN organizations o ON o.id = m.organization_id
                WHERE m.user_id = u.id) AS memberships
    FROM users u`;

/**
 * A user with the TOTP secret opened (`withTotp`), or without it (lists). A secret that does not
 * open (a wrong secrets key) is thrown: login must fail closed, never skip the second factor.
 */
function toUser(r: UserRow, box: SecretBox | undefined): StoredUser {
  let totpSecret: string | null = null;
  if (box) {
    const opened = openSealed(box, { plaintext: r.totp_secret, sealed: r.totp_secret_sealed }, totpSecretContext(r.id));
    if (!opened.ok) throw new Error(`the TOTP secret of user ${r.id} does not open: ${opened.error.message}`);
    totpSecret = opened.value;
  }
  return {
    id: r.id,
    email: r.email,
    globalAdmin: r.global_admin,
    totpEnabled: r.totp_enabled,
    disabled: r.disabled_at !== null,
    memberships: r.memberships ?? [],
    createdAt: r.created_at.toISOString(),
    passwordHash: r.password_hash,
    totpSecret,
  };
}

/** Public view: never the hash or the TOTP secret. */
export function publicUser(u: StoredUser): User {
  const { passwordHash: _h, totpSecret: _t, ...rest } = u;
  return rest;
}

/** The users table and their memberships (one owner: this module). */
export class UserStore {
  /** `secrets` seals the TOTP secrets. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: SecretBox,
  ) {}

  async create(input: {
    email: string;
    passwordHash: string | null;
    globalAdmin: boolean;
    membership?: { organizationId: string; role: OrgRole } | undefined;
  }): Promise<Result<StoredUser, AccountError>> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const id = randomUUID();
      const inserted = await client.query(
        `INSERT INTO users (id, email, password_hash, global_admin, password_changed_at)
         VALUES ($1, $2, $3, $4, CASE WHEN $3::text IS NULL THEN NULL ELSE now() END)
         ON CONFLICT (email) DO NOTHING`,
        [id, input.email, input.passwordHash, input.globalAdmin],
      );
      if (inserted.rowCount === 0) {
        await client.query('ROLLBACK');
        return err({ code: 'CONFLICT', message: `a user with the email ${input.email} exists already` });
      }
      if (input.membership) {
        const org = await client.query('SELECT 1 FROM organizations WHERE id = $1', [input.membership.organizationId]);
        if (org.rowCount === 0) {
          await client.query('ROLLBACK');
          return err({ code: 'NOT_FOUND', message: `no organization ${input.membership.organizationId}` });
        }
        await client.query('INSERT INTO memberships (user_id, organization_id, role) VALUES ($1, $2, $3)', [
          id,
          input.membership.organizationId,
          input.membership.role,
        ]);
      }
      await client.query('COMMIT');
      return ok((await this.get(id))!);
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async get(id: string): Promise<StoredUser | undefined> {
    const { rows } = await this.pool.query<UserRow>(`${SELECT} WHERE u.id = $1`, [id]);
    return rows[0] ? toUser(rows[0], this.secrets) : undefined;
  }

  async byEmail(email: string): Promise<StoredUser | undefined> {
    const { rows } = await this.pool.query<UserRow>(`${SELECT} WHERE u.email = lower($1)`, [email]);
    return rows[0] ? toUser(rows[0], this.secrets) : undefined;
  }

  async byOidcSubject(issuer: string, subject: string): Promise<StoredUser | undefined> {
    const { rows } = await this.pool.query<UserRow>(`${SELECT} WHERE u.oidc_issuer = $1 AND u.oidc_subject = $2`, [
      issuer,
      subject,
    ]);
    return rows[0] ? toUser(rows[0], this.secrets) : undefined;
  }

  /** Every user, or those with a role in one organization (their TOTP secrets not opened: null). */
  async list(organizationId?: string): Promise<StoredUser[]> {
    const { rows } = await this.pool.query<UserRow>(
      organizationId
        ? `${SELECT} WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.organization_id = $1)
            ORDER BY u.email`
        : `${SELECT} ORDER BY u.email`,
      organizationId ? [organizationId] : [],
    );
    return rows.map((r) => toUser(r, undefined));
  }

  async count(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM users');
    return Number(rows[0]!.n);
  }

  async setPassword(id: string, passwordHash: string): Promise<boolean> {
    const r = await this.pool.query('UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1', [
      id,
      passwordHash,
    ]);
    return r.rowCount === 1;
  }

  async setTotp(id: string, secret: string | null, enabled: boolean): Promise<void> {
    await this.pool.query(
      'UPDATE users SET totp_secret = NULL, totp_secret_sealed = $2, totp_enabled = $3 WHERE id = $1',
      [id, secret === null ? null : this.secrets.seal(secret, totpSecretContext(id)), enabled],
    );
  }

  async linkOidc(id: string, issuer: string, subject: string): Promise<void> {
    await this.pool.query('UPDATE users SET oidc_issuer = $2, oidc_subject = $3 WHERE id = $1', [id, issuer, subject]);
  }

  async setDisabled(id: string, disabled: boolean): Promise<boolean> {
    const r = await this.pool.query(
      'UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END WHERE id = $1',
      [id, disabled],
    );
    return r.rowCount === 1;
  }

  /** Gives a role in an organization (or changes it). */
  async setMembership(userId: string, organizationId: string, role: OrgRole): Promise<Result<void, AccountError>> {
    const r = await this.pool.query(
      `INSERT INTO memberships (user_id, organization_id, role)
       SELECT $1, o.id, $3 FROM organizations o WHERE o.id = $2
       ON CONFLICT (user_id, organization_id) DO UPDATE SET role = EXCLUDED.role`,
      [userId, organizationId, role],
    );
    return r.rowCount === 1 ? ok(undefined) : err({ code: 'NOT_FOUND', message: `no organization ${organizationId}` });
  }

  async removeMembership(userId: string, organizationId: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM memberships WHERE user_id = $1 AND organization_id = $2', [
      userId,
      organizationId,
    ]);
    return r.rowCount === 1;
  }
}
