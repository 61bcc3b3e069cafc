import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { isGlobalAdmin } from '../domain/index.js';
import { authenticate, type Authenticator } from '../infra/http/auth.js';
import { FAILS, responses } from '../infra/http/responses.js';
import { blocklistStatuses } from '../infra/blocklists/index.js';
import type { TenancyStore } from '../infra/tenancy/index.js';

const Listing = z.object({
  kind: z.enum(['ip', 'domain']),
  target: z.string().describe('the sending IP address or domain'),
  zone: z.string().describe('the blocklist, e.g. zen.spamhaus.org'),
  listed: z.boolean().describe('false: it was listed and no longer is'),
  codes: z.array(z.string()).describe("the list's 127.0.0.x answers"),
  reason: z.string().describe("the list's TXT record ('' when none)"),
  since: z.string().describe('when it was listed (or delisted)'),
  serverIds: z.array(z.string()).describe('the servers (that you can see) sending from it'),
});

/**
 * `GET /v2/deliverability/blocklists`: which sending IPs and domains are (or were) on a configured
 * DNS blocklist, listed first. A global admin sees every IP and domain; another admin the domains of
 * the servers it can see (sending IPs are the operator's).
 */
export function blocklistRoutes(deps: {
  pool: pg.Pool;
  auth: Authenticator;
  tenancy: TenancyStore;
  zones: { ip: string[]; domain: string[]; checkMinutes: number };
}) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    app.get('/v2/deliverability/blocklists', {
      preHandler: authenticate(deps.auth, ['admin']),
      schema: {
        tags: ['operations'],
        summary: 'Sending IPs and domains on DNS blocklists (blocklist monitoring)',
        security: [{ adminToken: [] }, { session: [] }],
        response: responses(
          {
            200: z.object({
              ipZones: z.array(z.string()),
              domainZones: z.array(z.string()),
              checkMinutes: z.number(),
              listings: z.array(Listing),
            }),
          },
          FAILS.admin,
        ),
      },
      handler: async (req) => {
        const actor = req.postlogActor!;
        let serverIds: string[] | null = null;
        if (!isGlobalAdmin(actor)) {
          serverIds = [];
          for (const org of await deps.tenancy.listOrganizations(actor)) {
            const listed = await deps.tenancy.listServers(actor, org.id);
            if (listed.ok) serverIds.push(...listed.value.map((s) => s.id));
          }
        }
        // another tenant's servers (the same domain on theirs) are not named
        const visible = serverIds && new Set(serverIds);
        const listings = (await blocklistStatuses(deps.pool, serverIds)).map((l) => ({
          ...l,
          serverIds: visible ? l.serverIds.filter((id) => visible.has(id)) : l.serverIds,
        }));
        return {
          ipZones: deps.zones.ip,
          domainZones: deps.zones.domain,
          checkMinutes: deps.zones.checkMinutes,
          listings,
        };
      },
    });
  };
}
