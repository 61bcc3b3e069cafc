import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import type { RouteStore } from '../../infra/routes/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';

export interface RouteDeps {
  routes: RouteStore;
  auth: Authenticator;
  tenancy: TenancyStore;
}

const security: { [label: string]: string[] }[] = [{ adminToken: [] }];

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
        body: z.object({ address: z.string().regex(/^(\*|[^\s@*]+)@[^\s@*]+$/, 'an address, or *@domain'), endpointUrl: z.url({ protocol: /^https?$/ }), format: z.enum(['json', 'raw']).default('json') }).strict(),
      },
      handler: async (req, reply) => {
        const server = await deps.tenancy.getServer(req.postlogActor!, req.params.id);
        if (!server.ok) return sendError(reply, 404, 'NOT_FOUND', 'server not found');
        const domain = req.body.address.slice(req.body.address.lastIndexOf('@') + 1).toLowerCase();
        const sending = await deps.tenancy.sendingDomain(server.value.id, domain);
        if (!sending?.verified) return sendError(reply, 400, 'VALIDATION_FAILED', `${domain} is not a verified domain of this server`, [{ path: 'address', message: 'domain not verified for this server' }]);
        const route = await deps.routes.create(server.value.id, req.body.address, req.body.endpointUrl, req.body.format);
        if (route === 'taken') return sendError(reply, 409, 'CONFLICT', `${req.body.address} is routed already`);
        return reply.code(201).send(route);
      },
    });

    app.get('/v2/servers/:id/routes', { schema: { tags: ['routes'], summary: "A server's routes", security, params: Id } }, async (req, reply) => {
      const server = await deps.tenancy.getServer(req.postlogActor!, req.params.id);
      if (!server.ok) return sendError(reply, 404, 'NOT_FOUND', 'server not found');
      return reply.send({ routes: await deps.routes.list(server.value.id) });
    });

    const visibleRoute = async (actor: Parameters<TenancyStore['getServer']>[0], id: string) => {
      const route = await deps.routes.get(id);
      return route && (await deps.tenancy.getServer(actor, route.serverId)).ok ? route : undefined;
    };

    app.delete('/v2/routes/:id', { schema: { tags: ['routes'], summary: 'Remove a route', security, params: Id } }, async (req, reply) => {
      const route = await visibleRoute(req.postlogActor!, req.params.id);
      if (!route) return sendError(reply, 404, 'NOT_FOUND', 'route not found');
      await deps.routes.remove(route.id);
      return reply.code(204).send();
    });

    app.get(
      '/v2/routes/:id/deliveries',
      { schema: { tags: ['routes'], summary: 'The delivery log of a route, newest first', security, params: Id, querystring: z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }) } },
      async (req, reply) => {
        const route = await visibleRoute(req.postlogActor!, req.params.id);
        if (!route) return sendError(reply, 404, 'NOT_FOUND', 'route not found');
        return reply.send({ deliveries: await deps.routes.deliveries(route.id, req.query.limit) });
      },
    );

    app.post(
      '/v2/routes/:id/deliveries/:delivery/retry',
      { schema: { tags: ['routes'], summary: 'Hand a delivered or failed message to the endpoint again', security, params: z.object({ id: z.uuid(), delivery: z.coerce.number().int().positive() }) } },
      async (req, reply) => {
        const route = await visibleRoute(req.postlogActor!, req.params.id);
        if (!route) return sendError(reply, 404, 'NOT_FOUND', 'route not found');
        return (await deps.routes.retryNow(req.params.delivery, [route.id])) ? reply.code(202).send({ queued: true }) : sendError(reply, 409, 'CONFLICT', 'no such finished delivery on this route');
      },
    );
  };
}
