import type pg from 'pg';
import type { AdminActor, CredentialKind, Server } from '../../domain/index.js';
import type { SecretBox } from '../secrets/index.js';
import { sealContext } from './credentials.js';
import { toServer } from './row-mappers.js';
import { sha256 } from './secrets.js';

/**
 * A challenge-response login (CRAM-MD5): `unreadable` when the login's secret cannot be read back
 * (made before secrets were sealed, or sealed with another key); `reason` is for the log.
 */
export type ChallengeLogin =
  | { outcome: 'ok'; server: Server }
  | { outcome: 'unknown' }
  | { outcome: 'wrong' }
  | { outcome: 'unreadable'; reason: string };

/** An SES access key: `unreadable` when its secret was sealed with another key (`reason` is for the log). */
export type SesAccessKey =
  | { outcome: 'ok'; server: Server; secret: string }
  | { outcome: 'unknown' }
  | { outcome: 'unreadable'; reason: string };

/**
 * Who a secret belongs to: an API key's or SMTP login's server (its last use recorded), an admin
 * token's actor. Revoked secrets belong to no one. Uncached: infra/http/auth.ts caches the answers.
 * An SMTP login imported from Postal takes any username (password_only): Postal checks the password
 * alone, and its clients were configured with whatever username people chose.
 */
export class Authentication {
  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: SecretBox,
  ) {}

  async apiKey(key: string): Promise<Server | undefined> {
    return this.credential('api', key);
  }

  async smtp(username: string, password: string): Promise<Server | undefined> {
    return this.credential('smtp', password, username);
  }

  /**
   * An SMTP login by challenge and response: `validate` is handed the login's secret and says
   * whether the client's response was made with it (the secret never leaves this process).
   */
  async smtpChallenge(username: string, validate: (secret: string) => boolean): Promise<ChallengeLogin> {
    const { rows } = await this.pool.query(
      `SELECT id, secret_sealed FROM credentials WHERE kind = 'smtp' AND identifier = $1 AND revoked_at IS NULL`,
      [username],
    );
    const row = rows[0];
    if (!row) return { outcome: 'unknown' };
    if (row.secret_sealed === null)
      return {
        outcome: 'unreadable',
        reason: 'this SMTP login was made before secrets were sealed: it works with PLAIN and LOGIN only',
      };
    const secret = this.secrets.open(row.secret_sealed, sealContext(row.id));
    if (!secret.ok) return { outcome: 'unreadable', reason: secret.error.message };
    if (!validate(secret.value)) return { outcome: 'wrong' };
    const used = await this.pool.query(
      `UPDATE credentials c SET last_used_at = now() FROM servers s
        WHERE c.server_id = s.id AND c.id = $1 AND c.revoked_at IS NULL RETURNING s.*`,
      [row.id],
    );
    return used.rows[0] ? { outcome: 'ok', server: toServer(used.rows[0]) } : { outcome: 'unknown' };
  }

  /**
   * An SES access key (credential kind ses): its server and its secret, so that the caller can check a request's
   * AWS Signature V4 (the secret never leaves this process). Its last use is recorded.
   */
  async sesAccessKey(accessKeyId: string): Promise<SesAccessKey> {
    const { rows } = await this.pool.query(
      `UPDATE credentials c SET last_used_at = now() FROM servers s
        WHERE s.id = c.server_id AND c.kind = 'ses' AND c.identifier = $1 AND c.revoked_at IS NULL
       RETURNING c.id AS credential_id, c.secret_sealed, s.*`,
      [accessKeyId],
    );
    const row = rows[0];
    if (!row) return { outcome: 'unknown' };
    const secret = this.secrets.open(row.secret_sealed, sealContext(row.credential_id));
    if (!secret.ok) return { outcome: 'unreadable', reason: secret.error.message };
    return { outcome: 'ok', server: toServer(row), secret: secret.value };
  }

  /**
   * The server an SMTP client may submit for without AUTH, by its address (SMTP-IP credentials):
   * the narrowest range holding it wins, then the oldest. Its last use is recorded.
   */
  async smtpAddress(clientAddress: string): Promise<Server | undefined> {
    // an IPv4 client of a dual-stack listener is written ::ffff:a.b.c.d; its ranges are IPv4 ones
    const address = clientAddress.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    const { rows } = await this.pool.query(
      `UPDATE credentials c SET last_used_at = now() FROM servers s
        WHERE s.id = c.server_id AND c.id = (
          SELECT id FROM credentials
           WHERE kind = 'smtp-ip' AND revoked_at IS NULL AND $1::inet <<= source_range
           ORDER BY masklen(source_range) DESC, created_at LIMIT 1)
       RETURNING s.*`,
      [address],
    );
    return rows[0] ? toServer(rows[0]) : undefined;
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
