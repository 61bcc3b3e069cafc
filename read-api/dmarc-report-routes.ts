import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { authenticate, type Authenticator } from '../infra/http/auth.js';
import { sendError } from '../infra/http/errors.js';
import { FAILS, responses } from '../infra/http/responses.js';
import { dmarcSourcesOf, dmarcSummaryOf } from '../infra/dmarc-reports/index.js';
import type { TenancyStore } from '../infra/tenancy/index.js';

const DAY_MS = 86_400_000;

const Counts = {
  messages: z.number(),
  dkimAligned: z.number().describe('messages that passed DKIM aligned with the From domain'),
  spfAligned: z.number().describe('messages that passed SPF aligned with the From domain'),
  dmarcPass: z.number().describe('messages that passed either, aligned (DMARC pass)'),
};

const Summary = z.object({
  domain: z.string(),
  from: z.string(),
  to: z.string(),
  reports: z.number(),
  ...Counts,
  refused: z.number().describe('mails to the report address for the domain that could not be read'),
  reporters: z.array(z.object({ org: z.string(), reports: z.number(), ...Counts })),
  failingSources: z
    .array(z.object({ ip: z.string(), reporter: z.string(), ...Counts, quarantined: z.number(), rejected: z.number() }))
    .describe('sources some of whose mail failed DMARC, the most messages first (at most 100)'),
});

/**
 * `GET /v2/domains/{id}/dmarc-reports?from=…&to=…`: a summary of the DMARC aggregate reports of a
 * domain whose period began in the range (default: the last 30 days); the details are GraphQL's
 * dmarcSummary and dmarcSources (docs/analytics.md). Whoever may see the domain may see its reports.
 */
export function dmarcReportRoutes(deps: { pool: pg.Pool; auth: Authenticator; tenancy: TenancyStore }) {
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    app.get('/v2/domains/:id/dmarc-reports', {
      preHandler: authenticate(deps.auth, ['admin']),
      schema: {
        tags: ['domains'],
        summary: "A domain's DMARC aggregate reports: volumes, aligned passes, reporters and failing sources",
        security: [{ adminToken: [] }, { session: [] }],
        params: z.object({ id: z.uuid() }),
        querystring: z.object({
          from: z.iso.datetime({ offset: true }).optional().describe('default: 30 days before to'),
          to: z.iso.datetime({ offset: true }).optional().describe('default: now'),
        }),
        response: responses({ 200: Summary }, [...FAILS.invalid, ...FAILS.admin, 404]),
      },
      handler: async (req, reply) => {
        const domain = await deps.tenancy.getDomain(req.postlogActor!, req.params.id);
        if (!domain.ok) return sendError(reply, domain.error.code, domain.error.message);
        const to = req.query.to ?? new Date().toISOString();
        const from = req.query.from ?? new Date(Date.parse(to) - 30 * DAY_MS).toISOString();
        if (Date.parse(from) >= Date.parse(to))
          return sendError(reply, 'VALIDATION_FAILED', '"from" must be before "to"', [
            { path: 'from', message: 'must be before "to"' },
          ]);
        const selection = { serverIds: [domain.value.serverId], domain: domain.value.name, from, to };
        const [summary, failingSources] = await Promise.all([
          dmarcSummaryOf(deps.pool, selection),
          dmarcSourcesOf(deps.pool, selection, { failing: true, limit: 100 }),
        ]);
        return { domain: domain.value.name, from, to, ...summary, failingSources };
      },
    });
  };
}
