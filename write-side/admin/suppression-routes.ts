import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { normalizedAddress, parseMailbox } from '../../domain/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, NO_CONTENT, responses, type ErrorStatus } from '../../infra/http/responses.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import type { SuppressionList } from '../../infra/messages/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';

export interface SuppressionDeps {
  suppressions: SuppressionList;
  auth: Authenticator;
  tenancy: TenancyStore;
}

const Suppression = z.object({
  address: z.string(),
  reason: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
});
/**
 * An admin token must name the server (400 without serverId; 404 for one it may not see); an API
 * key acts on its own (403 for another's). OpenAPI cannot make a parameter required for one of two
 * security schemes only, so the parameter says it and 400 is declared.
 */
const ServerId = z
  .uuid()
  .optional()
  .describe('required with an admin token; with an API key, its own server (another is refused with 403)');
const scoped: ErrorStatus[] = [...FAILS.invalid, ...FAILS.apiKey, 404];

/** The one server a request acts on: its API key's, or the one an admin names (and may see). */
async function serverOf(
  deps: SuppressionDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  serverId: string | undefined,
): Promise<string | undefined> {
  if (!req.postlogServer && !serverId) {
    sendError(reply, 'VALIDATION_FAILED', 'serverId is required with an admin token', [
      { path: 'serverId', message: 'is required' },
    ]);
    return undefined;
  }
  const scope = await serverScope(deps.tenancy, req, serverId);
  if (!scope.ok) {
    sendError(
      reply,
      req.postlogServer ? 'FORBIDDEN' : refusalCode(scope),
      req.postlogServer ? 'an API key acts on its own server only' : scope.message,
    );
    return undefined;
  }
  return scope.servers![0];
}

/**
 * The suppression list over the API (Postal has none: #58, #60, #156, #1153): list, add and
 * remove addresses of a server's list. Sends to a listed address are held with reason suppressed.
 */
export function suppressionRoutes(deps: SuppressionDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    const auth = authenticate(deps.auth, ['server', 'admin']);
    const security: { [label: string]: string[] }[] = [{ apiKey: [] }, { adminToken: [] }];
    const doc = (summary: string) => ({ tags: ['suppressions'], summary, security });

    app.get('/v2/suppressions', {
      preHandler: auth,
      schema: {
        ...doc('Suppressed addresses, newest first (page with before=<last address>)'),
        querystring: z.object({
          serverId: ServerId,
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          before: z.string().optional(),
          address: z.string().optional(),
        }),
        response: responses(
          { 200: z.object({ suppressions: z.array(Suppression), next: z.string().nullable() }) },
          scoped,
        ),
      },
      handler: async (req, reply) => {
        const serverId = await serverOf(deps, req, reply, req.query.serverId);
        if (!serverId) return reply;
        const entries = await deps.suppressions.list(serverId, {
          limit: req.query.limit,
          before: req.query.before,
          address: req.query.address,
        });
        return reply.send({
          suppressions: entries,
          next: entries.length === req.query.limit ? entries[entries.length - 1]!.address : null,
        });
      },
    });

    app.post('/v2/suppressions', {
      preHandler: auth,
      schema: {
        ...doc('Suppress an address (days: null for ever)'),
        body: z
          .object({
            address: z.string().min(3).max(320),
            reason: z.string().min(1).max(500).default('added through the API'),
            days: z.number().int().min(1).max(3650).nullable().optional(),
            serverId: ServerId,
          })
          .strict(),
        response: responses({ 201: Suppression }, [...scoped, ...FAILS.body]),
      },
      handler: async (req, reply) => {
        const serverId = await serverOf(deps, req, reply, req.body.serverId);
        if (!serverId) return reply;
        const mailbox = parseMailbox(req.body.address);
        if (!mailbox.ok)
          return sendError(reply, 'VALIDATION_FAILED', mailbox.error, [{ path: 'address', message: mailbox.error }]);
        await deps.suppressions.add(
          serverId,
          normalizedAddress(mailbox.value),
          req.body.reason,
          req.body.days === undefined ? undefined : req.body.days,
        );
        const [entry] = await deps.suppressions.list(serverId, { limit: 1, address: normalizedAddress(mailbox.value) });
        return reply.code(201).send(entry!);
      },
    });

    app.delete('/v2/suppressions/:address', {
      preHandler: auth,
      schema: {
        ...doc('Remove an address from the list'),
        params: z.object({ address: z.string().min(3).max(320) }),
        querystring: z.object({ serverId: ServerId }),
        response: responses({ 204: NO_CONTENT }, scoped),
      },
      handler: async (req, reply) => {
        const serverId = await serverOf(deps, req, reply, req.query.serverId);
        if (!serverId) return reply;
        const removed = await deps.suppressions.remove(serverId, req.params.address);
        return removed
          ? reply.code(204).send()
          : sendError(reply, 'NOT_FOUND', `${req.params.address} is not suppressed`);
      },
    });
  };
}
