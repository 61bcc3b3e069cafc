import { z } from 'zod';
import { OrgRole, roleIncludes } from './roles.js';

/**
 * Who acts on tenancy: a label for the audit log, and what the actor may see.
 * - `organizationId: null` without `roles`: a global admin (the operator: a global admin token or
 *   user, the CLI, Postlog's own processes).
 * - `organizationId` set: an organization's admin token, the admin of that organization.
 * - `roles`: a dashboard user, with a role in each organization it belongs to (and none elsewhere).
 */
export const Actor = z.object({
  label: z.string(),
  organizationId: z.string().nullable(),
  userId: z.string().optional(),
  roles: z.record(z.string(), OrgRole).optional(),
});
export type Actor = z.infer<typeof Actor>;

/** An admin token's actor, with the token's id. */
export const AdminActor = Actor.extend({ tokenId: z.string() });
export type AdminActor = z.infer<typeof AdminActor>;

/** Postlog itself or the operator's CLI: a global admin, named for the audit log. */
export const systemActor = (label: string): Actor => ({ label, organizationId: null });

export const isGlobalAdmin = (actor: Actor): boolean => actor.organizationId === null && actor.roles === undefined;

/** The actor's role in an organization, if it has one (`null`: what belongs to no organization). */
export function roleIn(actor: Actor, organizationId: string | null): OrgRole | undefined {
  if (isGlobalAdmin(actor)) return 'admin';
  if (organizationId === null) return undefined;
  if (actor.roles) return actor.roles[organizationId];
  return actor.organizationId === organizationId ? 'admin' : undefined;
}

/**
 * Whether the actor may see what belongs to an organization (`null`: to none, such as a global
 * admin token): a global admin sees everything, others the organizations they have a role in.
 */
export const maySee = (actor: Actor, organizationId: string | null): boolean =>
  roleIn(actor, organizationId) !== undefined;

/** Whether the actor's role in the organization includes `needed`. */
export const mayDo = (actor: Actor, organizationId: string | null, needed: OrgRole): boolean => {
  const role = roleIn(actor, organizationId);
  return role !== undefined && roleIncludes(role, needed);
};

/**
 * The organizations an actor sees, for queries that list (`null`: all of them). An actor that is
 * not a global admin sees at least one id, possibly none at all (`[]`).
 */
export function visibleOrganizations(actor: Actor, needed: OrgRole = 'viewer'): string[] | null {
  if (isGlobalAdmin(actor)) return null;
  if (actor.roles)
    return Object.entries(actor.roles)
      .filter(([, role]) => roleIncludes(role, needed))
      .map(([id]) => id);
  return actor.organizationId === null ? [] : [actor.organizationId];
}
