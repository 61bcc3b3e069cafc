import type { FastifyRequest } from 'fastify';
import { mayDo, type OrgRole, roleIn, serverScopeRule } from '../../domain/index.js';
import type { TenancyStore } from '../tenancy/index.js';

/**
 * The servers a request may act on or read: an API key's own server; an admin's named server (if
 * the admin may see it), or else every server of its organization — `null` for a global admin,
 * meaning "all". A server the caller may not see is reported as not found, so ids cannot be probed.
 * The rule is domain/tenancy/server-scope.ts; this makes the look-ups it asks for.
 */
export type ServerScope = { ok: true; servers: string[] | null } | { ok: false; status: 403 | 404; message: string };

/** The catalogue code of a refusal: seen but not allowed (a viewer changing something), or not found. */
export const refusalCode = (scope: { status: 403 | 404 }) => (scope.status === 403 ? 'FORBIDDEN' : 'NOT_FOUND');

export async function serverScope(
  tenancy: TenancyStore,
  req: FastifyRequest,
  serverId: string | undefined,
  needed: OrgRole = req.method === 'GET' || req.method === 'HEAD' ? 'viewer' : 'member',
): Promise<ServerScope> {
  const caller = req.postlogServer ? { apiKeyOf: req.postlogServer.id } : { actor: req.postlogActor! };
  const rule = serverScopeRule(caller, serverId, needed);
  switch (rule.kind) {
    case 'servers':
      return { ok: true, servers: rule.servers };
    case 'all-servers':
      return { ok: true, servers: null };
    case 'not-found':
      return { ok: false, status: 404, message: 'server not found' };
    case 'if-visible': {
      const server = await tenancy.getServer(rule.actor, rule.serverId);
      if (!server.ok) return { ok: false, status: 404, message: 'server not found' };
      const org = server.value.organizationId;
      return mayDo(rule.actor, org, rule.needed)
        ? { ok: true, servers: [rule.serverId] }
        : { ok: false, status: 403, message: `your role in this organization (${roleIn(rule.actor, org)}) only reads` };
    }
    case 'organizations-servers': {
      const servers = await Promise.all(rule.organizationIds.map((org) => tenancy.listServers(rule.actor, org)));
      return { ok: true, servers: servers.flatMap((s) => (s.ok ? s.value.map((x) => x.id) : [])) };
    }
  }
}
