import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor, Server } from '../../domain/index.js';
import type { SesAccessKey, TenancyStore } from '../tenancy/index.js';
import { sha256 } from '../tenancy/index.js';
import { sendError } from './errors.js';
import { sessionTokenOf } from './session-cookie.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The server whose API key authenticated the request. */
    postlogServer?: Server;
    /** The admin token's actor. */
    postlogActor?: Actor;
  }
}

/** Cached answers of one kind, each looked up at most once at a time. */
class AnswerCache<V> {
  private readonly answers = new Map<string, { value: V; until: number }>();
  private readonly inFlight = new Map<string, Promise<V>>();
  /** Bumped by clear(): a look-up that started before it must not be remembered after it. */
  private generation = 0;

  constructor(private readonly ttlMs: number) {}

  async get(key: string, lookUp: () => Promise<V>): Promise<V> {
    const hit = this.answers.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    let pending = this.inFlight.get(key);
    if (!pending) {
      const generation = this.generation;
      pending = lookUp()
        .then((value) => {
          if (generation === this.generation) {
            if (this.answers.size > 10_000) this.answers.clear();
            this.answers.set(key, { value, until: Date.now() + this.ttlMs });
          }
          return value;
        })
        // after a clear(), the entry may already be a newer look-up's
        .finally(() => this.inFlight.get(key) === pending && this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  clear(): void {
    this.generation++;
    this.answers.clear();
    this.inFlight.clear();
  }
}

/**
 * Resolves API keys and admin tokens, caching answers briefly: a busy API client must not cost a
 * database write per request. A revoked key or a suspension takes effect within `ttlMs`. When an
 * answer runs out, the requests that arrive before the new one is in share one look-up: each
 * look-up of an API key writes its credential's last-used time, and 64 concurrent requests
 * missing together queued 64 writes on that one row (milliseconds each, every five seconds).
 */
export class Authenticator {
  private readonly servers: AnswerCache<Server | undefined>;
  private readonly admins: AnswerCache<Actor | undefined>;
  private readonly sesKeys: AnswerCache<SesAccessKey>;

  constructor(
    private readonly tenancy: TenancyStore,
    ttlMs = 5000,
    /** Dashboard sessions (a cookie) as actors; without it, only keys and tokens authenticate. */
    readonly sessions?: {
      actorFor(token: string): Promise<{ actor: Actor; csrfToken: string } | undefined>;
    },
  ) {
    this.servers = new AnswerCache(ttlMs);
    this.admins = new AnswerCache(ttlMs);
    this.sesKeys = new AnswerCache(ttlMs);
  }

  async server(apiKey: string): Promise<Server | undefined> {
    return this.servers.get(sha256(apiKey), () => this.tenancy.authenticateApiKey(apiKey));
  }

  async admin(token: string): Promise<Actor | undefined> {
    return this.admins.get(sha256(token), () => this.tenancy.authenticateAdmin(token));
  }

  /** An SES access key's server and secret (SigV4 clients); the caller checks the signature with the secret. */
  async sesAccessKey(accessKeyId: string): Promise<SesAccessKey> {
    return this.sesKeys.get(sha256(accessKeyId), () => this.tenancy.authenticateSesAccessKey(accessKeyId));
  }

  /** Drops cached answers (after a change through this process's management API). */
  forget(): void {
    this.servers.clear();
    this.admins.clear();
    this.sesKeys.clear();
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Credentials of a request: `X-Server-API-Key`, or `Authorization: Bearer <key or admin token>`. */
export function credentialsOf(req: FastifyRequest): { apiKey?: string; adminToken?: string } {
  const header = req.headers['x-server-api-key'];
  if (typeof header === 'string' && header.trim()) return { apiKey: header.trim() };
  const auth = req.headers.authorization;
  const bearer = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1] : undefined;
  if (!bearer) return {};
  return bearer.startsWith('plt_') ? { adminToken: bearer } : { apiKey: bearer };
}

/**
 * Who a request is for rate limiting: its API key or admin token, or the key a vendor-compatible API carries
 * (Postmark's X-Postmark-Server-Token, Basic auth's password as Mailgun sends it, an AWS SigV4 access key id);
 * undefined for an anonymous request (limited by address instead).
 */
export function rateLimitIdentity(req: FastifyRequest): string | undefined {
  const { apiKey, adminToken } = credentialsOf(req);
  if (apiKey ?? adminToken) return apiKey ?? adminToken;
  const postmark = req.headers['x-postmark-server-token'];
  if (typeof postmark === 'string' && postmark.trim()) return postmark.trim();
  const auth = typeof req.headers.authorization === 'string' ? req.headers.authorization : '';
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(auth)?.[1];
  if (basic) return Buffer.from(basic, 'base64').toString('utf8');
  return /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\//.exec(auth)?.[1];
}

export type Allowed = 'server' | 'admin';

/** A preHandler: authenticates as a server (API key) and/or an admin, as the route allows. */
export function authenticate(auth: Authenticator, allowed: Allowed[]) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const { apiKey, adminToken } = credentialsOf(req);
    if (apiKey && allowed.includes('server')) {
      const server = await auth.server(apiKey);
      if (!server) return sendError(reply, 'INVALID_API_KEY', 'the API key is not valid');
      if (server.suspended)
        return sendError(
          reply,
          'SERVER_SUSPENDED',
          `the server is suspended${server.suspendedReason ? `: ${server.suspendedReason}` : ''}`,
        );
      req.postlogServer = server;
      return;
    }
    if (adminToken && allowed.includes('admin')) {
      const actor = await auth.admin(adminToken);
      if (!actor) return sendError(reply, 'INVALID_ADMIN_TOKEN', 'the admin token is not valid');
      req.postlogActor = actor;
      return;
    }
    // the dashboard: a session cookie acts as its user, where an admin token may act
    const sessionToken = allowed.includes('admin') ? sessionTokenOf(req) : undefined;
    if (sessionToken && auth.sessions) {
      const session = await auth.sessions.actorFor(sessionToken);
      if (!session) return sendError(reply, 'SESSION_EXPIRED', 'the dashboard session ended: log in again');
      // a cross-site page can make the browser send the cookie, but cannot read the token
      if (!SAFE_METHODS.has(req.method) && req.headers['x-csrf-token'] !== session.csrfToken)
        return sendError(reply, 'CSRF_TOKEN_INVALID', "X-CSRF-Token is missing or is not this session's");
      req.postlogActor = session.actor;
      return;
    }
    const wanted = allowed
      .map((a) => (a === 'server' ? 'an API key (X-Server-API-Key)' : 'an admin token (Authorization: Bearer plt_…)'))
      .join(' or ');
    return sendError(reply, 'UNAUTHENTICATED', `this endpoint needs ${wanted}`);
  };
}
