import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  visibleOrganizations,
  authorize,
  err,
  notFound,
  ok,
  type Actor,
  type AdminTokenInfo,
  type CreateAdminToken,
  type Result,
  type TenancyError,
} from '../../domain/index.js';
import { inResultTransaction } from '../postgres/transaction.js';
import { recordChange } from './audit-log.js';
import type { Organizations } from './organizations.js';
import { toAdminToken } from './row-mappers.js';
import { newAdminToken, sha256 } from './secrets.js';

/** Admin tokens: an organization's (its admin) or global (the operator's). */
export class AdminTokens {
  constructor(
    private readonly pool: pg.Pool,
    private readonly organizations: Organizations,
  ) {}

  /** The token is returned once and only its hash is kept. */
  async create(
    actor: Actor,
    input: CreateAdminToken,
  ): Promise<Result<{ token: AdminTokenInfo; secret: string }, TenancyError>> {
    const allowed = authorize(actor, { do: 'create-admin-token', organizationId: input.organizationId });
    if (!allowed.ok) return allowed;
    if (input.organizationId !== null) {
      const org = await this.organizations.get(actor, input.organizationId);
      if (!org.ok) return org;
    }
    const secret = newAdminToken();
    const id = randomUUID();
    return inResultTransaction(this.pool, async (c) => {
      const { rows } = await c.query(
        'INSERT INTO admin_tokens (id, organization_id, name, token_prefix, token_sha256) VALUES ($1, $2, $3, $4, $5) RETURNING *',
        [id, input.organizationId, input.name, secret.slice(0, 10), sha256(secret)],
      );
      const token = toAdminToken(rows[0]);
      await recordChange(c, actor, {
        action: 'create',
        entityType: 'admin-token',
        entityId: id,
        scope: { organizationId: input.organizationId },
        before: null,
        after: token,
      });
      return ok({ token, secret });
    });
  }

  async list(actor: Actor): Promise<AdminTokenInfo[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM admin_tokens WHERE $1::uuid[] IS NULL OR organization_id = ANY($1) ORDER BY created_at',
      [visibleOrganizations(actor, 'admin')],
    );
    return rows.map(toAdminToken);
  }

  async revoke(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return inResultTransaction(this.pool, async (c) => {
      const { rows } = await c.query('SELECT * FROM admin_tokens WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0]) return err(notFound('admin token'));
      const allowed = authorize(actor, { do: 'revoke-admin-token', organizationId: rows[0].organization_id });
      if (!allowed.ok) return allowed;
      await c.query('UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1', [id]);
      await recordChange(c, actor, {
        action: 'revoke',
        entityType: 'admin-token',
        entityId: id,
        scope: { organizationId: rows[0].organization_id },
        before: toAdminToken(rows[0]),
        after: { ...toAdminToken(rows[0]), revoked: true },
      });
      return ok(undefined);
    });
  }
}
