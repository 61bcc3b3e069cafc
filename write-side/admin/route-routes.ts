import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, NO_CONTENT, responses, type ErrorStatus } from '../../infra/http/responses.js';
import type { RouteStore } from '../../infra/routes/index.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';

export interface RouteDeps {
  routes: RouteStore;
  auth: Authenticator;
  tenancy: TenancyStore;
}

const security: { [label: string]: string[] }[] = [{ adminToken: [] }];
const RouteSchema = z.object({
  id: z.string(),
  serverId: z.string(),
  address: z.string(),
  endpointUrl: z.string(),
  format: z.enum(['json', 'raw']),
  createdAt: z.string(),
});
const RouteDeliverySchema = z.object({
  id: z.number(),
  routeId: z.string(),
  mailFrom: z.string(),
  rcptTo: z.string(),
  receivedAt: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number(),
  nextAttemptAt: z.string().nullable(),
  lastStatusCode: z.number().nullable(),
  lastResponse: z.string().nullable(),
  deliveredAt: z.string().nullable(),
});
/** An invalid id (400), the admin token (401), a server or route it may not see (404). */
const base: ErrorStatus[] = [...FAILS.invalid, ...FAILS.admin, 404];

/**
 * Routes (a Postal feature): mail to an address, or to every address (`*@domain`) of one of a
 * server's verified domains, is posted to an HTTP endpoint, with retries and a delivery log.
 */
export function routeRoutes(deps: RouteDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    app.addHook('preHandler', authenticate(deps.auth, ['admin']));
    const Id = z.object({ id: z.uuid() });

    app.post('/v2/servers/:id/routes', {
      schema: {
        tags: ['routes'],
        summary: 'Route an inbound address to an HTTP endpoint (JSON parsed with postal-mime, or raw)',
        security,
        params: Id,
        body: z
          .object({
            address: z.string().regex(/^(\*|[^\s@*]+)@[^\s@*]+$/, 'an address, or *@domain'),
            endpointUrl: z.url({ protocol: /^https?$/ }),
            format: z.enum(['json', 'raw']).default('json'),
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
        const route = await deps.routes.create(req.params.id, req.body.address, req.body.endpointUrl, req.body.format);
        if (route === 'taken') return sendError(reply, 'CONFLICT', `${req.body.address} is routed already`);
        return reply.code(201).send(route);
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
        return reply.send({ routes: await deps.routes.list(server.value.id) });
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
      '/v2/routes/:id/deliveries',
      {
        schema: {
          tags: ['routes'],
          summary: 'The delivery log of a route, newest first',
          security,
          params: Id,
          querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }),
          response: responses({ 200: z.object({ deliveries: z.array(RouteDeliverySchema) }) }, base),
        },
      },
      async (req, reply) => {
        const route = await visibleRoute(req, req.params.id);
        if (!route) return sendError(reply, 'NOT_FOUND', 'route not found');
        return reply.send({ deliveries: await deps.routes.deliveries(route.id, req.query.limit) });
      },
    );

    app.post(
      '/v2/routes/:id/deliveries/:delivery/retry',
      {
        schema: {
          tags: ['routes'],
          summary: 'Hand a delivered or failed message to the endpoint again',
          security,
          params: z.object({ id: z.uuid(), delivery: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) }),
          response: responses({ 202: z.object({ queued: z.boolean() }) }, [...base, 409]),
        },
      },
      async (req, reply) => {
        const route = await visibleRoute(req, req.params.id);
        if (!route) return sendError(reply, 'NOT_FOUND', 'route not found');
        return (await deps.routes.retryNow(req.params.delivery, [route.id]))
          ? reply.code(202).send({ queued: true })
          : sendError(reply, 'CONFLICT', 'no such finished delivery on this route');
      },
    );
  };
}
