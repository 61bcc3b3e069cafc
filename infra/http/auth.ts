import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor, Server, TenancyStore } from '../tenancy/index.js';
import { sha256 } from '../tenancy/index.js';
import { sendError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The server whose API key authenticated the request. */
    postlogServer?: Server;
    /** The admin token's actor. */
    postlogActor?: Actor;
  }
}

/**
 * Resolves API keys and admin tokens, caching answers briefly: a busy API client must not cost a
 * database write per request. A revoked key or a suspension takes effect within `ttlMs`.
 */
export class Authenticator {
  private readonly servers = new Map<string, { server: Server | undefined; until: number }>();
  private readonly admins = new Map<string, { actor: Actor | undefined; until: number }>();

  constructor(private readonly tenancy: TenancyStore, private readonly ttlMs = 5000) {}

  async server(apiKey: string): Promise<Server | undefined> {
    const key = sha256(apiKey);
    const hit = this.servers.get(key);
    if (hit && hit.until > Date.now()) return hit.server;
    const server = await this.tenancy.authenticateApiKey(apiKey);
    this.remember(this.servers, key, { server, until: Date.now() + this.ttlMs });
    return server;
  }

  async admin(token: string): Promise<Actor | undefined> {
    const key = sha256(token);
    const hit = this.admins.get(key);
    if (hit && hit.until > Date.now()) return hit.actor;
    const actor = await this.tenancy.authenticateAdmin(token);
    this.remember(this.admins, key, { actor, until: Date.now() + this.ttlMs });
    return actor;
  }

  /** Drops cached answers (after a change through this process's management API). */
  forget(): void {
    this.servers.clear();
    this.admins.clear();
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size > 10_000) map.clear();
    map.set(key, value);
  }
}

/** Credentials of a request: `X-Server-API-Key`, or `Authorization: Bearer <key or admin token>`. */
export function credentialsOf(req: FastifyRequest): { apiKey?: string; adminToken?: string } {
  const header = req.headers['x-server-api-key'];
  if (typeof header === 'string' && header.trim()) return { apiKey: header.trim() };
  const auth = req.headers.authorization;
  const bearer = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] : undefined;
  if (!bearer) return {};
  return bearer.startsWith('plt_') ? { adminToken: bearer } : { apiKey: bearer };
}

export type Allowed = 'server' | 'admin';

/** A preHandler: authenticates as a server (API key) and/or an admin, as the route allows. */
export function authenticate(auth: Authenticator, allowed: Allowed[]) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const { apiKey, adminToken } = credentialsOf(req);
    if (apiKey && allowed.includes('server')) {
      const server = await auth.server(apiKey);
      if (!server) return sendError(reply, 401, 'INVALID_API_KEY', 'the API key is not valid');
      if (server.suspended) return sendError(reply, 403, 'SERVER_SUSPENDED', `the server is suspended${server.suspendedReason ? `: ${server.suspendedReason}` : ''}`);
      req.postlogServer = server;
      return;
    }
    if (adminToken && allowed.includes('admin')) {
      const actor = await auth.admin(adminToken);
      if (!actor) return sendError(reply, 401, 'INVALID_ADMIN_TOKEN', 'the admin token is not valid');
      req.postlogActor = actor;
      return;
    }
    const wanted = allowed.map((a) => (a === 'server' ? 'an API key (X-Server-API-Key)' : 'an admin token (Authorization: Bearer plt_…)')).join(' or ');
    return sendError(reply, 401, 'UNAUTHENTICATED', `this endpoint needs ${wanted}`);
  };
}
