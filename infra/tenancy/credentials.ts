import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  authorize,
  err,
  notFound,
  ok,
  type Actor,
  type CreateCredential,
  type Credential,
  type Result,
  type TenancyError,
} from '../../domain/index.js';
import { inResultTransaction } from '../postgres/transaction.js';
import type { SecretBox } from '../secrets/index.js';
import { recordChange } from './audit-log.js';
import { toCredential } from './row-mappers.js';
import { newApiKey, newSesAccessKeyId, newSesSecretKey, newSmtpPassword, newSmtpUsername, sha256 } from './secrets.js';
import type { Servers } from './servers.js';

/** A credential whose secret comes from elsewhere (Postal), with its kind, label and identifier. */
export interface ImportedCredential {
  kind: 'api' | 'smtp';
  name: string;
  identifier: string;
  secret: string;
}

/** API keys and SMTP logins of a server, visible to whoever may see the server. */
export class Credentials {
  constructor(
    private readonly pool: pg.Pool,
    private readonly servers: Servers,
    private readonly secrets: SecretBox,
  ) {}

  /**
   * Creates an API key, SMTP login, SMTP-IP range or SES access key. The secret is returned once; its hash is
   * kept, and for an SMTP login or SES key also the secret sealed with the secrets key (CRAM-MD5 and SigV4
   * need to read it back). An SMTP-IP credential has no secret ('' is returned). An SES key's identifier is its
   * access key id.
   */
  async create(
    actor: Actor,
    serverId: string,
    input: CreateCredential,
  ): Promise<Result<{ credential: Credential; secret: string }, TenancyError>> {
    const server = await this.servers.get(actor, serverId);
    if (!server.ok) return server;
    const allowed = authorize(actor, { do: 'manage', organizationId: server.value.organizationId, what: 'credential' });
    if (!allowed.ok) return allowed;
    // an smtp-ip credential has no secret: its range is its identifier (as PostgreSQL writes it)
    const secret = { api: newApiKey, smtp: newSmtpPassword, 'smtp-ip': () => '', ses: newSesSecretKey }[input.kind]();
    const identifier =
      input.kind === 'api' ? secret.slice(0, 6) : input.kind === 'ses' ? newSesAccessKeyId() : newSmtpUsername();
    const id = randomUUID();
    return inResultTransaction(this.pool, async (c) => {
      const range = input.kind === 'smtp-ip' ? (input.cidr ?? null) : null;
      const { rows } = await c.query(
        `INSERT INTO credentials (id, server_id, kind, name, identifier, secret_sha256, secret_sealed, source_range)
         VALUES ($1, $2, $3, $4, coalesce(network($8::inet)::text, $5), $6, $7, network($8::inet)) RETURNING *`,
        [
          id,
          serverId,
          input.kind,
          input.name,
          identifier,
          range === null ? sha256(secret) : null,
          // CRAM-MD5 and SigV4 prove the secret without sending it: it must be readable to check them
          input.kind === 'smtp' || input.kind === 'ses' ? this.secrets.seal(secret, sealContext(id)) : null,
          range,
        ],
      );
      const credential = toCredential(rows[0]);
      await recordChange(c, actor, {
        action: 'create',
        entityType: 'credential',
        entityId: id,
        scope: { organizationId: server.value.organizationId, serverId },
        before: null,
        after: credential,
      });
      return ok({ credential, secret });
    });
  }

  /**
   * Stores a credential with a secret it is given rather than one it makes: an API key or SMTP
   * password imported from Postal, so clients keep theirs. An SMTP login imported so takes any
   * username (Postal's rule). The same secret again on the same server answers the credential that
   * has it; on another server it is a CONFLICT (a secret names one server). Postal's keys are 24
   * random letters and digits (~143 bits): not guessable either, so a plain SHA-256 at rest holds.
   */
  async import(
    actor: Actor,
    serverId: string,
    input: ImportedCredential,
  ): Promise<Result<{ credential: Credential; created: boolean }, TenancyError>> {
    const server = await this.servers.get(actor, serverId);
    if (!server.ok) return server;
    const allowed = authorize(actor, { do: 'manage', organizationId: server.value.organizationId, what: 'credential' });
    if (!allowed.ok) return allowed;
    const id = randomUUID();
    type Imported = Result<{ credential: Credential; created: boolean }, TenancyError>;
    return inResultTransaction(this.pool, async (c): Promise<Imported> => {
      const { rows } = await c.query(
        `INSERT INTO credentials (id, server_id, kind, name, identifier, secret_sha256, password_only)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (secret_sha256) DO NOTHING RETURNING *`,
        [id, serverId, input.kind, input.name, input.identifier, sha256(input.secret), input.kind === 'smtp'],
      );
      if (!rows[0]) {
        const existing = await c.query('SELECT * FROM credentials WHERE secret_sha256 = $1', [sha256(input.secret)]);
        if (existing.rows[0]?.server_id !== serverId)
          return err({ code: 'CONFLICT', message: `a credential of another server has this ${input.kind} secret` });
        return ok({ credential: toCredential(existing.rows[0]), created: false });
      }
      const credential = toCredential(rows[0]);
      await recordChange(c, actor, {
        action: 'import',
        entityType: 'credential',
        entityId: id,
        scope: { organizationId: server.value.organizationId, serverId },
        before: null,
        after: credential,
      });
      return ok({ credential, created: true });
    });
  }

  async list(actor: Actor, serverId: string): Promise<Result<Credential[], TenancyError>> {
    const server = await this.servers.get(actor, serverId);
    if (!server.ok) return server;
    const { rows } = await this.pool.query('SELECT * FROM credentials WHERE server_id = $1 ORDER BY created_at', [
      serverId,
    ]);
    return ok(rows.map(toCredential));
  }

  async revoke(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return inResultTransaction(this.pool, async (c) => {
      const { rows } = await c.query(
        'SELECT c.*, s.organization_id FROM credentials c JOIN servers s ON s.id = c.server_id WHERE c.id = $1 FOR UPDATE OF c',
        [id],
      );
      if (!rows[0]) return err(notFound('credential'));
      const allowed = authorize(actor, { do: 'revoke-credential', organizationId: rows[0].organization_id });
      if (!allowed.ok) return allowed;
      await c.query('UPDATE credentials SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1', [id]);
      await recordChange(c, actor, {
        action: 'revoke',
        entityType: 'credential',
        entityId: id,
        scope: { organizationId: rows[0].organization_id, serverId: rows[0].server_id },
        before: toCredential(rows[0]),
        after: { ...toCredential(rows[0]), revoked: true },
      });
      return ok(undefined);
    });
  }
}

/** What a sealed SMTP secret is bound to: its credential row (a value copied to another row does not open). */
export const sealContext = (credentialId: string) => `credential:${credentialId}`;
