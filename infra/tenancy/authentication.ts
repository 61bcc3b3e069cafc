import type pg from 'pg';
import type { AdminActor, CredentialKind, Server } from '../../domain/index.js';
import { toServer } from './row-mappers.js';
import { sha256 } from './secrets.js';

/**
 * Who a secret belongs to: an API key's or SMTP login's server (its last use recorded), an admin
 * token's actor. Revoked secrets belong to no one. Uncached: infra/http/auth.ts caches the answers.
 * An SMTP login imported from Postal takes any username (password_only): Postal checks the password
 * alone, and its clients were configured with whatever username people chose.
 */
export class Authentication {
  constructor(private readonly pool: pg.Pool) {}

  async apiKey(key: string): Promise<Server | undefined> {
    return this.credential('api', key);
  }

  async smtp(username: string, password: string): Promise<Server | undefined> {
    return this.credential('smtp', password, username);
  }

  async adminToken(token: string): Promise<AdminActor | undefined> {
    const { rows } = await this.pool.query(
      'SELECT id, organization_id FROM admin_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL',
      [sha256(token)],
    );
    const r = rows[0];
    return r ? { tokenId: r.id, label: `admin-token:${r.id}`, organizationId: r.organization_id } : undefined;
  }

  private async credential(kind: CredentialKind, secret: string, username?: string): Promise<Server | undefined> {
    const { rows } = await this.pool.query(
      `UPDATE credentials c SET last_used_at = now()
         FROM servers s
        WHERE c.server_id = s.id AND c.secret_sha256 = $1 AND c.kind = $2 AND c.revoked_at IS NULL
          AND ($3::text IS NULL OR c.identifier = $3 OR c.password_only)
       RETURNING s.*`,
      [sha256(secret), kind, username ?? null],
    );
    return rows[0] ? toServer(rows[0]) : undefined;
  }
}
