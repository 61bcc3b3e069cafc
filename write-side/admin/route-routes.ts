import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, NO_CONTENT, responses, type ErrorStatus } from '../../infra/http/responses.js';
import type { EndpointQueue, Route, RouteStore } from '../../infra/routes/index.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';

export interface RouteDeps {
  routes: RouteStore;
  endpointQueue: EndpointQueue;
  auth: Authenticator;
  tenancy: TenancyStore;
}

const security: { [label: string]: string[] }[] = [{ adminToken: [] }];
const EndpointSchema = z.object({
  id: z.string(),
  kind: z.enum(['http', 'smtp', 'address']),
  target: z.string(),
  format: z.enum(['json', 'form', 'raw']),
  includeAttachments: z.boolean(),
  stripReplies: z.boolean(),
  timeoutSeconds: z.number(),
});
const RouteSchema = z.object({
  id: z.string(),
  serverId: z.string(),
  address: z.string(),
  mode: z.enum(['endpoint', 'accept', 'hold', 'bounce', 'reject']),
  spamMode: z.enum(['mark', 'quarantine', 'fail']),
  endpoints: z.array(EndpointSchema),
  /** The first HTTP endpoint's URL and format, as routes had them before they had several endpoints. */
  endpointUrl: z.string().nullable(),
  format: z.enum(['json', 'form', 'raw']).nullable(),
  createdAt: z.string(),
});
const asBody = (route: Route) => {
  const http = route.endpoints.find((e) => e.kind === 'http');
  return { ...route, endpointUrl: http?.target ?? null, format: http?.format ?? null };
};
const NewEndpoint = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('http'), target: z.url({ protocol: /^https?$/ }) }),
    z.object({
      kind: z.literal('smtp'),
      target: z
        .string()
        .max(300)
        .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, 'host or host:port'),
    }),
    z.object({ kind: z.literal('address'), target: z.email() }),
  ])
  .and(
    z.object({
      format: z.enum(['json', 'form', 'raw']).default('json'),
      includeAttachments: z.boolean().default(true),
      stripReplies: z.boolean().default(false),
      timeoutSeconds: z.number().int().min(1).max(60).default(30),
    }),
  );
const Mode = z.enum(['endpoint', 'accept', 'hold', 'bounce', 'reject']);
const SpamModeSchema = z.enum(['mark', 'quarantine', 'fail']);
const DeliverySchema = z.object({
  messageId: z.number(),
  endpointId: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number(),
  nextAttemptAt: z.string().nullable(),
  lastStatusCode: z.number().nullable(),
  lastResponse: z.string().nullable(),
  lastAttemptAt: z.string().nullable(),
});
/** An invalid id (400), the admin token (401), a server or route it may not see (404). */
const base: ErrorStatus[] = [...FAILS.invalid, ...FAILS.admin, 404];

/**
 * Routes (a Postal feature): mail to an address, or to every address (`*@domain`) of one of a
 * server's verified domains, becomes an incoming message handed to the route's endpoints (HTTP,
 * another SMTP server, an address), stored, held, bounced or refused, as its mode says.
 */
export function routeRoutes(deps: RouteDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    app.addHook('preHandler', authenticate(deps.auth, ['admin']));
    const Id = z.object({ id: z.uuid() });

    app.post('/v2/servers/:id/routes', {
      schema: {
        tags: ['routes'],
        summary:
          "Route an inbound address: its mode (Postal's Endpoint, Accept, Hold, Bounce, Reject), spam mode, endpoints",
        security,
        params: Id,
        body: z
          .object({
            address: z
              .string()
              .max(320)
              .regex(/^(\*|[^\s@*]+)@[^\s@*]+$/, 'an address, or *@domain'),
            mode: Mode.default('endpoint'),
            spamMode: SpamModeSchema.default('mark'),
            endpoints: z.array(NewEndpoint).max(10).optional(),
            // one HTTP endpoint, as routes were created before they had several
            endpointUrl: z.url({ protocol: /^https?$/ }).optional(),
            format: z.enum(['json', 'form', 'raw']).default('json'),
          })
          .strict(),
        response: responses({ 201: RouteSchema }, [...base, ...FAILS.body, 409]),
      },
      handler: async (req, reply) => {
        // a change: the caller's role must allow it (a viewer only reads)
        const scope = await serverScope(deps.tenancy, req, req.params.id);
        if (!scope.ok) return sendError(reply, refusalCode(scope), scope.message);
        const domain = req.body.address.slice(req.body.address.lastIndexOf('@') + 1).toLowerCase();
        const sending = await deps.tenancy.sendingDomain(req.params.id, domain);
        if (!sending?.verified)
          return sendError(reply, 'VALIDATION_FAILED', `${domain} is not a verified domain of this server`, [
            { path: 'address', message: 'domain not verified for this server' },
          ]);
        const b = req.body;
        const endpoints =
          b.endpoints ??
          (b.endpointUrl ? [NewEndpoint.parse({ kind: 'http', target: b.endpointUrl, format: b.format })] : []);
        if (b.mode === 'endpoint' && endpoints.length === 0)
          return sendError(reply, 'VALIDATION_FAILED', 'a route in endpoint mode needs at least one endpoint', [
            { path: 'endpoints', message: 'give endpoints, or choose another mode' },
          ]);
        const route = await deps.routes.create(req.params.id, b.address, {
          mode: b.mode,
          spamMode: b.spamMode,
          endpoints,
        });
        if (route === 'taken') return sendError(reply, 'CONFLICT', `${b.address} is routed already`);
        return reply.code(201).send(asBody(route));
      },
    });

    app.get(
      '/v2/servers/:id/routes',
      {
        schema: {
          tags: ['routes'],
          summary: "A server's routes",
          security,
          params: Id,
          response: responses({ 200: z.object({ routes: z.array(RouteSchema) }) }, base),
        },
      },
      async (req, reply) => {
        const server = await deps.tenancy.getServer(req.postlogActor!, req.params.id);
        if (!server.ok) return sendError(reply, 'NOT_FOUND', 'server not found');
        return reply.send({ routes: (await deps.routes.list(server.value.id)).map(asBody) });
      },
    );

    /** A route of a server the caller may read (GET) or change (a member or admin, otherwise). */
    const visibleRoute = async (req: FastifyRequest, id: string) => {
      const route = await deps.routes.get(id);
      return route && (await serverScope(deps.tenancy, req, route.serverId)).ok ? route : undefined;
    };

    app.delete(
      '/v2/routes/:id',
      {
        schema: {
          tags: ['routes'],
          summary: 'Remove a route',
          security,
          params: Id,
          response: responses({ 204: NO_CONTENT }, base),
        },
      },
      async (req, reply) => {
        const route = await visibleRoute(req, req.params.id);
        if (!route) return sendError(reply, 'NOT_FOUND', 'route not found');
        await deps.routes.remove(route.id);
        return reply.code(204).send();
      },
    );

    app.get(
      '/v2/routes/:id',
      {
        schema: {
          tags: ['routes'],
          summary: 'A route',
          security,
          params: Id,
          response: responses({ 200: RouteSchema }, base),
        },
      },
      async (req, reply) => {
        const route = await visibleRoute(req, req.params.id);
        if (!route) return sendError(reply, 'NOT_FOUND', 'route not found');
        return reply.send(asBody(route));
      },
    );

    app.patch(
      '/v2/routes/:id',
      {
        schema: {
          tags: ['routes'],
          summary: "Change a route's mode, spam mode or endpoints (endpoints given replace the route's)",
          security,
          params: Id,
          body: z
            .object({
              mode: Mode.optional(),
              spamMode: SpamModeSchema.optional(),
              endpoints: z.array(NewEndpoint).max(10).optional(),
            })
            .strict(),
          response: responses({ 200: RouteSchema }, [...base, ...FAILS.body]),
        },
      },
      async (req, reply) => {
        const route = await visibleRoute(req, req.params.id);
        if (!route) return sendError(reply, 'NOT_FOUND', 'route not found');
        const mode = req.body.mode ?? route.mode;
        const endpoints = req.body.endpoints ?? route.endpoints;
        if (mode === 'endpoint' && endpoints.length === 0)
          return sendError(reply, 'VALIDATION_FAILED', 'a route in endpoint mode needs at least one endpoint', [
            { path: 'endpoints', message: 'give endpoints, or choose another mode' },
          ]);
        const changed = await deps.routes.update(route.id, {
          ...(req.body.mode ? { mode: req.body.mode } : {}),
          ...(req.body.spamMode ? { spamMode: req.body.spamMode } : {}),
          ...(req.body.endpoints ? { endpoints: req.body.endpoints } : {}),
        });
        if (!changed) return sendError(reply, 'NOT_FOUND', 'route not found');
        return reply.send(asBody(changed));
      },
    );

    app.get(
      '/v2/routes/:id/deliveries',
      {
        schema: {
          tags: ['routes'],
          summary: "The route's incoming messages handed to its endpoints, newest first (one row per endpoint)",
          security,
          params: Id,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }),
          response: responses({ 200: z.object({ deliveries: z.array(DeliverySchema) }) }, base),
        },
      },
      async (req, reply) => {
        const route = await visibleRoute(req, req.params.id);
        if (!route) return sendError(reply, 'NOT_FOUND', 'route not found');
        const rows = await deps.endpointQueue.ofRoute(route.id, req.query.limit);
        return reply.send({
          deliveries: rows.map((r) => ({
            messageId: r.messageId,
            endpointId: r.endpointId,
            status: r.status,
            attempts: r.attempts,
            nextAttemptAt: r.dueAt,
            lastStatusCode: r.lastCode,
            lastResponse: r.lastResponse,
            lastAttemptAt: r.lastAttemptAt,
          })),
        });
      },
    );
  };
}
