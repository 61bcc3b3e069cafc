import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ServerDeliverability } from '../../domain/index.js';
import type { DeliverabilityStore } from '../../infra/deliverability/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, responses } from '../../infra/http/responses.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';

export interface DeliverabilityRouteDeps {
  deliverability: DeliverabilityStore;
  auth: Authenticator;
  tenancy: TenancyStore;
}

const security: { [label: string]: string[] }[] = [{ adminToken: [] }];

/**
 * A server's deliverability settings (docs/deliverability.md): Feedback-ID, List-Unsubscribe on
 * SMTP-submitted mail, its own reputation thresholds. PATCH changes the fields it names.
 */
export function deliverabilityRoutes(deps: DeliverabilityRouteDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    app.addHook('preHandler', authenticate(deps.auth, ['admin']));
    const Id = z.object({ id: z.uuid() });

    app.get('/v2/servers/:id/deliverability', {
      schema: {
        tags: ['servers'],
        summary: "A server's deliverability settings: Feedback-ID, SMTP List-Unsubscribe, reputation thresholds",
        security,
        params: Id,
        response: responses({ 200: ServerDeliverability }, [...FAILS.invalid, ...FAILS.admin, 404]),
      },
      handler: async (req, reply) => {
        const scope = await serverScope(deps.tenancy, req, req.params.id);
        if (!scope.ok) return sendError(reply, refusalCode(scope), scope.message);
        // a global admin's scope is every server, those that do not exist too
        if (!(await deps.tenancy.getServer(req.postlogActor!, req.params.id)).ok)
          return sendError(reply, 'NOT_FOUND', 'server not found');
        return reply.send(await deps.deliverability.get(req.params.id));
      },
    });

    app.patch('/v2/servers/:id/deliverability', {
      schema: {
        tags: ['servers'],
        summary: "Change a server's deliverability settings (the fields given)",
        security,
        params: Id,
        body: ServerDeliverability.partial().strict(),
        response: responses({ 200: ServerDeliverability }, [...FAILS.invalid, ...FAILS.admin, ...FAILS.body, 404]),
      },
      handler: async (req, reply) => {
        const scope = await serverScope(deps.tenancy, req, req.params.id);
        if (!scope.ok) return sendError(reply, refusalCode(scope), scope.message);
        // a global admin's scope is every server, those that do not exist too
        if (!(await deps.tenancy.getServer(req.postlogActor!, req.params.id)).ok)
          return sendError(reply, 'NOT_FOUND', 'server not found');
        const before = await deps.deliverability.get(req.params.id);
        const after = ServerDeliverability.parse({ ...before, ...req.body });
        return reply.send(await deps.deliverability.put(req.params.id, after));
      },
    });
  };
}
