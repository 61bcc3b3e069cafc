import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../infra/http/errors.js';
import { refusalCode, serverScope } from '../infra/http/server-scope.js';
import type { TenancyStore } from '../infra/tenancy/index.js';

/**
 * The servers a request may read (undefined: an error answer was sent): the message list, its CSV
 * export, the stats and the queue ask the same.
 */
export async function readableServers(
  tenancy: TenancyStore,
  req: FastifyRequest,
  reply: FastifyReply,
  serverId: string | undefined,
): Promise<string[] | null | undefined> {
  const scope = await serverScope(tenancy, req, serverId);
  if (!scope.ok) {
    sendError(reply, refusalCode(scope), scope.message);
    return undefined;
  }
  return scope.servers;
}
