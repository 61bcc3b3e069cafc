import type pg from 'pg';
import { type Actor, visibleOrganizations } from '../../domain/index.js';
import { iso } from './row-mappers.js';

/** One change of configuration: who did what to which entity, in whose scope, before and after. */
export interface AuditedChange {
  action: string;
  entityType: string;
  entityId: string;
  scope: { organizationId?: string | null; serverId?: string };
  /** null: the entity did not exist before (created). */
  before: unknown;
  /** null: the entity does not exist after (deleted). */
  after: unknown;
}

/**
 * Writes the config_audit row of a change, on the change's own transaction: the change and its
 * record commit together or not at all.
 */
export async function recordChange(c: pg.ClientBase, actor: Actor, change: AuditedChange): Promise<void> {
  await c.query(
    `INSERT INTO config_audit (actor, action, entity_type, entity_id, organization_id, server_id, before, after)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      actor.label,
      change.action,
      change.entityType,
      change.entityId,
      change.scope.organizationId ?? null,
      change.scope.serverId ?? null,
      change.before === null ? null : JSON.stringify(change.before),
      change.after === null ? null : JSON.stringify(change.after),
    ],
  );
}

/** The configuration audit log, newest first, as far as the actor may see (its organization's entries). */
export class AuditLog {
  constructor(private readonly pool: pg.Pool) {}

  async list(actor: Actor, options: { limit: number; before?: number | undefined }): Promise<unknown[]> {
    const { rows } = await this.pool.query(
      `SELECT id, at, actor, action, entity_type, entity_id, organization_id, server_id, before, after FROM config_audit
        WHERE ($1::uuid[] IS NULL OR organization_id = ANY($1)) AND ($2::bigint IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3`,
      [visibleOrganizations(actor, 'admin'), options.before ?? null, options.limit],
    );
    return rows.map((r) => ({
      id: r.id,
      at: iso(r.at),
      actor: r.actor,
      action: r.action,
      entityType: r.entity_type,
      entityId: r.entity_id,
      organizationId: r.organization_id,
      serverId: r.server_id,
      before: r.before,
      after: r.after,
    }));
  }
}
