import { type Actor, isGlobalAdmin, visibleOrganizations } from './actor.js';
import type { OrgRole } from './roles.js';

/** Who calls the message, suppression, route and webhook APIs: a server's API key or an admin token's actor. */
export type Caller = { apiKeyOf: string } | { actor: Actor };

/**
 * Which servers a caller may act on or read, as far as the caller alone decides it; where the
 * answer needs tenancy (may this admin see that server, which servers has this organization), it
 * says which look-up to make. An API key acts on its own server only; an admin on a server it may
 * see, or when it names none, on every server of its organization (a global admin: on all). A
 * server the caller may not see is not found, so ids cannot be probed.
 */
export type ServerScopeRule =
  | { kind: 'servers'; servers: string[] }
  | { kind: 'all-servers' }
  | { kind: 'not-found' }
  | { kind: 'if-visible'; actor: Actor; serverId: string; needed: OrgRole }
  | { kind: 'organizations-servers'; actor: Actor; organizationIds: string[] };

export function serverScopeRule(
  caller: Caller,
  serverId: string | undefined,
  needed: OrgRole = 'viewer',
): ServerScopeRule {
  if ('apiKeyOf' in caller) {
    if (serverId && serverId !== caller.apiKeyOf) return { kind: 'not-found' };
    return { kind: 'servers', servers: [caller.apiKeyOf] };
  }
  const { actor } = caller;
  if (serverId) return { kind: 'if-visible', actor, serverId, needed };
  if (isGlobalAdmin(actor)) return { kind: 'all-servers' };
  // an organization's token: its organization; a user: those where its role includes `needed`
  return { kind: 'organizations-servers', actor, organizationIds: visibleOrganizations(actor, needed) ?? [] };
}
