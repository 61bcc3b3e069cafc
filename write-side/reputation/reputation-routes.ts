import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isGlobalAdmin } from '../../domain/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, responses } from '../../infra/http/responses.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { Reputation, reputationView, resumeSending, type ReputationDeps } from './reputation-view.js';

export interface ReputationRouteDeps extends ReputationDeps {
  auth: Authenticator;
  tenancy: TenancyStore;
}

const security: { [label: string]: string[] }[] = [{ adminToken: [] }];
const actorLabel = (req: FastifyRequest) => req.postlogActor?.label ?? 'unknown';

/**
 * The reputation guard over the API: a server's rates and state (the server's and each sending
 * domain's), and the operator's resume, which lifts the pause and releases the mail it held.
 */
export function reputationRoutes(deps: ReputationRouteDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    app.addHook('preHandler', authenticate(deps.auth, ['admin']));
    const Id = z.object({ id: z.uuid() });

    app.get('/v2/servers/:id/reputation', {
      schema: {
        tags: ['servers'],
        summary: "A server's complaint and hard-bounce rates over the window, per sending domain, and any pause",
        security,
        params: Id,
        response: responses({ 200: Reputation }, [...FAILS.invalid, ...FAILS.admin, 404]),
      },
      handler: async (req, reply) => {
        const scope = await serverScope(deps.tenancy, req, req.params.id);
        if (!scope.ok) return sendError(reply, refusalCode(scope), scope.message);
        // a global admin's scope is every server, those that do not exist too
        if (!(await deps.tenancy.getServer(req.postlogActor!, req.params.id)).ok)
          return sendError(reply, 'NOT_FOUND', 'server not found');
        return reply.send(await reputationView(deps, req.params.id));
      },
    });

    app.post('/v2/servers/:id/reputation/resume', {
      schema: {
        tags: ['servers'],
        summary:
          'Lift the reputation pause of a server (and its domains), or of one sending domain; releases held mail',
        security,
        params: Id,
        body: z
          .object({ domain: z.string().min(1).max(253).optional().describe('only this sending domain') })
          .strict()
          .default({}),
        response: responses(
          {
            200: z.object({
              resumed: z.array(z.string().nullable()).describe('the scopes resumed (null: the server)'),
              released: z.number().describe('held messages released'),
              reputation: Reputation,
            }),
          },
          [...FAILS.invalid, ...FAILS.admin, ...FAILS.body, 404],
        ),
      },
      handler: async (req, reply) => {
        const scope = await serverScope(deps.tenancy, req, req.params.id);
        if (!scope.ok) return sendError(reply, refusalCode(scope), scope.message);
        // a global admin's scope is every server, those that do not exist too
        if (!(await deps.tenancy.getServer(req.postlogActor!, req.params.id)).ok)
          return sendError(reply, 'NOT_FOUND', 'server not found');
        // the pause is the operator's control over a tenant, like the send limit: a global admin lifts it
        if (!req.postlogActor || !isGlobalAdmin(req.postlogActor))
          return sendError(reply, 'FORBIDDEN', 'only a global admin may resume sending');
        const serverId = req.params.id;
        const domain = req.body.domain?.toLowerCase() ?? null;
        const { resumed, released } = await resumeSending(deps, serverId, domain, actorLabel(req));
        return reply.send({ resumed, released, reputation: await reputationView(deps, serverId) });
      },
    });
  };
}
