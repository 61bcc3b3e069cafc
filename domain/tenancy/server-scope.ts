import type { Actor } from './actor.js';

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
  | { kind: 'if-visible'; actor: Actor; serverId: string }
  | { kind: 'organization-servers'; actor: Actor; organizationId: string };

export function serverScopeRule(caller: Caller, serverId: string | undefined): ServerScopeRule {
  if ('apiKeyOf' in caller) {
    if (serverId && serverId !== caller.apiKeyOf) return { kind: 'not-found' };
    return { kind: 'servers', servers: [caller.apiKeyOf] };
  }
  const { actor } = caller;
  if (serverId) return { kind: 'if-visible', actor, serverId };
  if (actor.organizationId === null) return { kind: 'all-servers' }; // a global admin
  return { kind: 'organization-servers', actor, organizationId: actor.organizationId };
}
