import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Server } from '../../domain/index.js';
import type { Config } from '../../infra/config/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { FAILS, responses } from '../../infra/http/responses.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';

export interface IpPoolRouteDeps {
  pools: Config['ipPools'];
  tenancy: TenancyStore;
  auth: Authenticator;
}

export const IpPoolSchema = z.object({
  name: z.string(),
  addresses: z.array(
    z.object({
      address: z.string().describe('the local address mail leaves from'),
      ehlo: z.string().nullable().describe("the EHLO name sent from it; null: the server's POSTLOG_HOSTNAME"),
      weight: z.number().describe('its share of the pool’s mail, relative to the other addresses'),
    }),
  ),
  servers: z
    .array(z.object({ id: z.string(), name: z.string(), organizationId: z.string() }))
    .describe('the servers using the pool, of those the caller may see'),
});

/**
 * The sending IP pools of the configuration (postlog.yaml `ipPools`), read-only: which addresses
 * and EHLO names each has, and which servers use it. Pools are set up by the operator, not through
 * the API; a server names its pool in its `ipPool` setting (PATCH /v2/servers/{id}, a global admin).
 */
export function ipPoolRoutes(deps: IpPoolRouteDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    app.get('/v2/ip-pools', {
      preHandler: authenticate(deps.auth, ['admin']),
      schema: {
        tags: ['servers'],
        summary: 'The configured sending IP pools and the servers (that you can see) using each',
        security: [{ adminToken: [] }, { session: [] }],
        response: responses({ 200: z.object({ pools: z.array(IpPoolSchema) }) }, FAILS.admin),
      },
      handler: async (req) => {
        const actor = req.postlogActor!;
        // only the caller's organizations: another tenant's servers are not named, even by pool
        const servers: Server[] = [];
        for (const org of await deps.tenancy.listOrganizations(actor)) {
          const listed = await deps.tenancy.listServers(actor, org.id);
          if (listed.ok) servers.push(...listed.value);
        }
        const pools = Object.entries(deps.pools).map(([name, addresses]) => ({
          name,
          addresses: addresses.map((a) => ({ address: a.address, ehlo: a.ehlo ?? null, weight: a.weight })),
          servers: servers
            .filter((s) => s.ipPool === name)
            .map((s) => ({ id: s.id, name: s.name, organizationId: s.organizationId })),
        }));
        return { pools };
      },
    });
  };
}
