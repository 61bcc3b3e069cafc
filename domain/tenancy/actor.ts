import { z } from 'zod';

/**
 * Who acts on tenancy: a label for the audit log and the organization the actor may see. `null`
 * is a global admin (the operator: a global admin token, the CLI, Postlog's own processes).
 */
export const Actor = z.object({ label: z.string(), organizationId: z.string().nullable() });
export type Actor = z.infer<typeof Actor>;

/** An admin token's actor, with the token's id. */
export const AdminActor = Actor.extend({ tokenId: z.string() });
export type AdminActor = z.infer<typeof AdminActor>;

/** Postlog itself or the operator's CLI: a global admin, named for the audit log. */
export const systemActor = (label: string): Actor => ({ label, organizationId: null });

export const isGlobalAdmin = (actor: Actor): boolean => actor.organizationId === null;

/**
 * Whether the actor may see what belongs to an organization (`null`: to none, such as a global
 * admin token): a global admin sees everything, an organization's admin its own organization only.
 */
export const maySee = (actor: Actor, organizationId: string | null): boolean =>
  isGlobalAdmin(actor) || actor.organizationId === organizationId;
