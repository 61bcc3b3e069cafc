import type { Resolver } from 'node:dns/promises';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CreateTrackDomain, type Actor } from '../../domain/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { FAILS, NO_CONTENT, responses, type ErrorStatus } from '../../infra/http/responses.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { checkTrackDomainCname } from './domain-verification.js';
import { respond } from './management-routes.js';
import { TrackDomainCheckSchema, TrackDomainSchema } from './management-schemas.js';

export interface TrackDomainDeps {
  tenancy: TenancyStore;
  auth: Authenticator;
  resolver: Resolver;
}

const DomainId = z.object({ id: z.uuid() });
const TrackDomainId = z.object({ id: z.uuid(), trackDomainId: z.uuid() });
/** The admin token (401), a tenancy answer (403 not allowed, 404 not visible), an invalid id or body (400). */
const base: ErrorStatus[] = [...FAILS.invalid, ...FAILS.admin, 403, 404];

/**
 * Track domains (Postal's): a sending domain's own host for tracking links, e.g.
 * click.example.com with a CNAME to Postlog's tracking host. Links of the domain's messages use
 * it once a check found the CNAME. Admin tokens only, as the rest of the management API.
 */
export function trackDomainRoutes(deps: TrackDomainDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    const { tenancy } = deps;
    app.addHook('preHandler', authenticate(deps.auth, ['admin']));
    // a change made here is seen by this process's send path at once
    app.addHook('onSend', async (req) => {
      if (req.method !== 'GET') deps.tenancy.forgetCaches();
    });
    const doc = (summary: string, response: ReturnType<typeof responses>) => ({
      tags: ['domains'],
      summary,
      security: [{ adminToken: [] }],
      response,
    });
    const actor = (req: { postlogActor?: Actor }) => req.postlogActor!;

    app.post(
      '/v2/domains/:id/track-domains',
      {
        schema: {
          ...doc(
            "Add the domain's track domain (a label: click for click.<domain>); the answer names the CNAME to publish",
            responses({ 201: TrackDomainSchema }, [...base, ...FAILS.body, 409]),
          ),
          params: DomainId,
          body: CreateTrackDomain,
        },
      },
      async (req, reply) => respond(reply, await tenancy.createTrackDomain(actor(req), req.params.id, req.body), 201),
    );
    app.get(
      '/v2/domains/:id/track-domains',
      {
        schema: {
          ...doc(
            "The domain's track domains (at most one)",
            responses({ 200: z.object({ trackDomains: z.array(TrackDomainSchema) }) }, base),
          ),
          params: DomainId,
        },
      },
      async (req, reply) => {
        const list = await tenancy.listTrackDomains(actor(req), req.params.id);
        return respond(reply, list.ok ? { ok: true, value: { trackDomains: list.value } } : list);
      },
    );
    app.get(
      '/v2/domains/:id/track-domains/:trackDomainId',
      {
        schema: { ...doc('A track domain', responses({ 200: TrackDomainSchema }, base)), params: TrackDomainId },
      },
      async (req, reply) =>
        respond(reply, await tenancy.getTrackDomain(actor(req), req.params.id, req.params.trackDomainId)),
    );
    app.delete(
      '/v2/domains/:id/track-domains/:trackDomainId',
      {
        schema: {
          ...doc(
            'Remove a track domain: links of new messages use the server’s address',
            responses({ 204: NO_CONTENT }, base),
          ),
          params: TrackDomainId,
        },
      },
      async (req, reply) =>
        respond(reply, await tenancy.deleteTrackDomain(actor(req), req.params.id, req.params.trackDomainId)),
    );
    app.post(
      '/v2/domains/:id/track-domains/:trackDomainId/check',
      {
        schema: {
          ...doc(
            'Check the CNAME: found, links use the track domain; missing or wrong, they no longer do',
            responses({ 200: TrackDomainCheckSchema }, base),
          ),
          params: TrackDomainId,
        },
      },
      async (req, reply) => {
        const trackDomain = await tenancy.getTrackDomain(actor(req), req.params.id, req.params.trackDomainId);
        if (!trackDomain.ok) return respond(reply, trackDomain);
        const check = await checkTrackDomainCname(deps.resolver, trackDomain.value);
        const after = await tenancy.recordTrackDomainCheck(
          actor(req),
          req.params.id,
          req.params.trackDomainId,
          check.ok,
        );
        if (!after.ok) return respond(reply, after);
        return reply.send({ verified: after.value.verified, check, trackDomain: after.value });
      },
    );
  };
}
