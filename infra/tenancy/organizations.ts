import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  visibleOrganizations,
  authorize,
  err,
  notFound,
  ok,
  type Actor,
  type Organization,
  type Result,
  type TenancyError,
} from '../../domain/index.js';
import { inResultTransaction } from '../postgres/transaction.js';
import { recordChange } from './audit-log.js';
import { toOrganization } from './row-mappers.js';

/** Organizations: the tenants. Only a global admin creates or deletes one. */
export class Organizations {
  constructor(private readonly pool: pg.Pool) {}

  async create(actor: Actor, input: { name: string }): Promise<Result<Organization, TenancyError>> {
    const allowed = authorize(actor, { do: 'create-organization' });
    if (!allowed.ok) return allowed;
    const id = randomUUID();
    return inResultTransaction(this.pool, async (c) => {
      const { rows } = await c.query('INSERT INTO organizations (id, name) VALUES ($1, $2) RETURNING *', [
        id,
        input.name,
      ]);
      const org = toOrganization(rows[0]);
      await recordChange(c, actor, {
        action: 'create',
        entityType: 'organization',
        entityId: id,
        scope: { organizationId: id },
        before: null,
        after: org,
      });
      return ok(org);
    });
  }

  async list(actor: Actor): Promise<Organization[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM organizations WHERE $1::uuid[] IS NULL OR id = ANY($1) ORDER BY created_at',
      [visibleOrganizations(actor)],
    );
    return rows.map(toOrganization);
  }

  async get(actor: Actor, id: string): Promise<Result<Organization, TenancyError>> {
    const allowed = authorize(actor, { do: 'see-organization', organizationId: id });
    if (!allowed.ok) return allowed;
    const { rows } = await this.pool.query('SELECT * FROM organizations WHERE id = $1', [id]);
    return rows[0] ? ok(toOrganization(rows[0])) : err(notFound('organization'));
  }

  async update(
    actor: Actor,
    id: string,
    input: { name?: string | undefined },
  ): Promise<Result<Organization, TenancyError>> {
    const allowed = authorize(actor, { do: 'manage', organizationId: id, what: 'organization' });
    if (!allowed.ok) return allowed;
    return inResultTransaction(this.pool, async (c) => {
      const before = await c.query('SELECT * FROM organizations WHERE id = $1 FOR UPDATE', [id]);
      if (!before.rows[0]) return err(notFound('organization'));
      const { rows } = await c.query(
        'UPDATE organizations SET name = coalesce($2, name), updated_at = now() WHERE id = $1 RETURNING *',
        [id, input.name ?? null],
      );
      const org = toOrganization(rows[0]);
      await recordChange(c, actor, {
        action: 'update',
        entityType: 'organization',
        entityId: id,
        scope: { organizationId: id },
        before: toOrganization(before.rows[0]),
        after: org,
      });
      return ok(org);
    });
  }

  /** Only an organization without servers; its admin tokens go with it. */
  async delete(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    const allowed = authorize(actor, { do: 'delete-organization' });
    if (!allowed.ok) return allowed;
    return inResultTransaction(this.pool, async (c) => {
      const before = await c.query('SELECT * FROM organizations WHERE id = $1 FOR UPDATE', [id]);
      if (!before.rows[0]) return err(notFound('organization'));
      const servers = await c.query('SELECT count(*)::int AS n FROM servers WHERE organization_id = $1', [id]);
      if (servers.rows[0].n > 0)
        return err({ code: 'CONFLICT', message: 'the organization still has servers: delete them first' });
      await c.query('DELETE FROM admin_tokens WHERE organization_id = $1', [id]);
      await c.query('DELETE FROM organizations WHERE id = $1', [id]);
      await recordChange(c, actor, {
        action: 'delete',
        entityType: 'organization',
        entityId: id,
        scope: { organizationId: id },
        before: toOrganization(before.rows[0]),
        after: null,
      });
      return ok(undefined);
    });
  }
}
