import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { isGlobalAdmin } from '../domain/index.js';
import { authenticate, type Authenticator } from '../infra/http/auth.js';
import { sendError } from '../infra/http/errors.js';
import { responses } from '../infra/http/responses.js';
import { tlsReportCountsOf } from '../infra/tls-reports/index.js';

const Count = z.object({
  policyDomain: z.string(),
  day: z.string(),
  policyType: z.enum(['sts', 'tlsa', 'no-policy-found']).describe('RFC 8460 policy-type'),
  policyId: z.string().describe("the MTA-STS policy's id ('' without a policy)"),
  mode: z.string().describe("enforce or testing ('' without a policy)"),
  successes: z.number(),
  failures: z.number(),
  failureTypes: z.record(z.string(), z.number()).describe('RFC 8460 result type → attempts'),
});

/**
 * `GET /v2/tls-reports?domain=…&day=YYYY-MM-DD`: the TLS-RPT counts (RFC 8460) of a recipient
 * domain on a day, per policy. Global admins only: recipient domains are every tenant's traffic.
 */
export function tlsReportRoutes(deps: { pool: pg.Pool; auth: Authenticator }) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    app.get('/v2/tls-reports', {
      preHandler: authenticate(deps.auth, ['admin']),
      schema: {
        tags: ['operations'],
        summary: "A recipient domain's TLS successes and failures of a day, per policy (TLS-RPT; global admins)",
        security: [{ adminToken: [] }],
        querystring: z.object({
          domain: z.string().min(1).max(253),
          // PostgreSQL has no year 0: an earlier day would be its error (500), not the caller's (400)
          day: z.iso
            .date()
            .refine((d) => d >= '1970-01-01', 'a day from 1970 on')
            .describe('UTC day, YYYY-MM-DD'),
        }),
        response: responses({ 200: z.object({ counts: z.array(Count) }) }, [400, 401, 403]),
      },
      handler: async (req, reply) => {
        if (!isGlobalAdmin(req.postlogActor!))
          return sendError(reply, 'FORBIDDEN', "only a global admin sees recipient domains' TLS reports");
        return { counts: await tlsReportCountsOf(deps.pool, req.query.domain, req.query.day) };
      },
    });
  };
}
