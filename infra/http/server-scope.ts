import type { FastifyRequest } from 'fastify';
import type { TenancyStore } from '../tenancy/index.js';

/**
 * The servers a request may act on or read: an API key's own server; an admin's named server (if
 * the admin may see it), or else every server of its organization — `null` for a global admin,
 * meaning "all". A server the caller may not see is reported as not found, so ids cannot be probed.
 */
export type ServerScope = { ok: true; servers: string[] | null } | { ok: false; status: 403 | 404; message: string };

export async function serverScope(
  tenancy: TenancyStore,
  req: FastifyRequest,
  serverId: string | undefined,
): Promise<ServerScope> {
  if (req.postlogServer) {
    if (serverId && serverId !== req.postlogServer.id) return { ok: false, status: 404, message: 'server not found' };
    return { ok: true, servers: [req.postlogServer.id] };
  }
  const actor = req.postlogActor!;
  if (serverId)
    return (await tenancy.getServer(actor, serverId)).ok
      ? { ok: true, servers: [serverId] }
      : { ok: false, status: 404, message: 'server not found' };
  if (actor.organizationId === null) return { ok: true, servers: null };
  const servers = await tenancy.listServers(actor, actor.organizationId);
  return { ok: true, servers: servers.ok ? servers.value.map((s) => s.id) : [] };
}
