import type { Resolver } from 'node:dns/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  CreateAdminToken,
  CreateCredential,
  CreateDomain,
  CreateOrganization,
  CreateServer,
  UpdateOrganization,
  UpdateServer,
  type Actor,
  type Result,
  type TenancyError,
} from '../../domain/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, NO_CONTENT, responses, type ErrorStatus } from '../../infra/http/responses.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { checkDnsRecords } from './domain-verification.js';
import {
  AdminTokenSchema,
  AuditEntrySchema,
  CredentialSchema,
  DomainCheckSchema,
  DomainSchema,
  OrganizationSchema,
  ServerSchema,
} from './management-schemas.js';

export interface ManagementDeps {
  tenancy: TenancyStore;
  auth: Authenticator;
  resolver: Resolver;
}

const Id = z.object({ id: z.uuid() });
/**
 * The send limit is stored as a PostgreSQL integer: a larger number failed as a database error
 * (500). The bound belongs in domain/tenancy's schemas; until it is there, the routes add it.
 */
const sendLimitPerHour = z.number().int().positive().max(2_147_483_647).nullable();
const CreateServerBody = CreateServer.extend({ sendLimitPerHour: sendLimitPerHour.default(null) });
const UpdateServerBody = UpdateServer.extend({ sendLimitPerHour: sendLimitPerHour.optional() });
/** Every route: the admin token (401), a tenancy answer (403 not allowed, 404 not visible), an invalid id or body (400). */
const base: ErrorStatus[] = [...FAILS.invalid, ...FAILS.admin, 403, 404];
/** Routes with a JSON body: also too large or not JSON (413, 415), and a name taken (409). */
const withBody: ErrorStatus[] = [...base, ...FAILS.body, 409];

/** A tenancy result as the answer: its error from the catalogue, or the value (204 when there is none). */
export function respond<T>(reply: FastifyReply, result: Result<T, TenancyError>, status = 200) {
  if (!result.ok) {
    const e = result.error;
    return sendError(
      reply,
      e.code,
      e.message,
      e.code === 'INVALID' && e.field ? [{ path: e.field, message: e.message }] : undefined,
    );
  }
  return result.value === undefined ? reply.code(204).send() : reply.code(status).send(result.value);
}

/**
 * The management API (Postal has none): organizations, servers, domains with their DNS records,
 * credentials, admin tokens, DKIM rotation and the configuration audit log. Admin tokens only.
 */
export function managementRoutes(deps: ManagementDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    const { tenancy } = deps;
    app.addHook('preHandler', authenticate(deps.auth, ['admin']));
    // a change made here is seen by this process's authentication at once
    app.addHook('onSend', async (req) => {
      if (req.method !== 'GET') {
        deps.auth.forget();
        deps.tenancy.forgetCaches();
      }
    });
    const doc = (tag: string, summary: string, response: ReturnType<typeof responses>) => ({
      tags: [tag],
      summary,
      security: [{ adminToken: [] }],
      response,
    });
    const actor = (req: { postlogActor?: Actor }) => req.postlogActor!;

    app.post(
      '/v2/organizations',
      {
        schema: {
          ...doc(
            'organizations',
            'Create an organization (global admin)',
            responses({ 201: OrganizationSchema }, withBody),
          ),
          body: CreateOrganization,
        },
      },
      async (req, reply) => respond(reply, await tenancy.createOrganization(actor(req), req.body), 201),
    );
    app.get(
      '/v2/organizations',
      {
        schema: doc(
          'organizations',
          'Organizations you can see',
          responses({ 200: z.object({ organizations: z.array(OrganizationSchema) }) }, FAILS.admin),
        ),
      },
      async (req) => ({ organizations: await tenancy.listOrganizations(actor(req)) }),
    );
    app.get(
      '/v2/organizations/:id',
      {
        schema: {
          ...doc('organizations', 'An organization', responses({ 200: OrganizationSchema }, base)),
          params: Id,
        },
      },
      async (req, reply) => respond(reply, await tenancy.getOrganization(actor(req), req.params.id)),
    );
    app.patch(
      '/v2/organizations/:id',
      {
        schema: {
          ...doc('organizations', 'Rename an organization', responses({ 200: OrganizationSchema }, withBody)),
          params: Id,
          body: UpdateOrganization,
        },
      },
      async (req, reply) => respond(reply, await tenancy.updateOrganization(actor(req), req.params.id, req.body)),
    );
    app.delete(
      '/v2/organizations/:id',
      {
        schema: {
          ...doc(
            'organizations',
            'Delete an organization without servers (global admin)',
            responses({ 204: NO_CONTENT }, [...base, 409]),
          ),
          params: Id,
        },
      },
      async (req, reply) => respond(reply, await tenancy.deleteOrganization(actor(req), req.params.id)),
    );

    app.post(
      '/v2/organizations/:id/servers',
      {
        schema: {
          ...doc('servers', 'Create a mail server', responses({ 201: ServerSchema }, withBody)),
          params: Id,
          body: CreateServerBody,
        },
      },
      async (req, reply) => respond(reply, await tenancy.createServer(actor(req), req.params.id, req.body), 201),
    );
    app.get(
      '/v2/organizations/:id/servers',
      {
        schema: {
          ...doc(
            'servers',
            "An organization's servers",
            responses({ 200: z.object({ servers: z.array(ServerSchema) }) }, base),
          ),
          params: Id,
        },
      },
      async (req, reply) => {
        const servers = await tenancy.listServers(actor(req), req.params.id);
        return respond(reply, servers.ok ? { ok: true, value: { servers: servers.value } } : servers);
      },
    );
    app.get(
      '/v2/servers/:id',
      { schema: { ...doc('servers', 'A server', responses({ 200: ServerSchema }, base)), params: Id } },
      async (req, reply) => respond(reply, await tenancy.getServer(actor(req), req.params.id)),
    );
    app.patch(
      '/v2/servers/:id',
      {
        schema: {
          ...doc('servers', 'Change a server (mode, limits, suspension)', responses({ 200: ServerSchema }, withBody)),
          params: Id,
          body: UpdateServerBody,
        },
      },
      async (req, reply) => respond(reply, await tenancy.updateServer(actor(req), req.params.id, req.body)),
    );
    app.delete(
      '/v2/servers/:id',
      {
        schema: {
          ...doc(
            'servers',
            'Delete a server, its domains and credentials (its message history stays)',
            responses({ 204: NO_CONTENT }, base),
          ),
          params: Id,
        },
      },
      async (req, reply) => respond(reply, await tenancy.deleteServer(actor(req), req.params.id)),
    );

    app.post(
      '/v2/servers/:id/domains',
      {
        schema: {
          ...doc(
            'domains',
            'Add a sending domain; the answer lists the DNS records to publish',
            responses({ 201: DomainSchema }, withBody),
          ),
          params: Id,
          body: CreateDomain,
        },
      },
      async (req, reply) => respond(reply, await tenancy.createDomain(actor(req), req.params.id, req.body), 201),
    );
    app.get(
      '/v2/servers/:id/domains',
      {
        schema: {
          ...doc(
            'domains',
            "A server's domains",
            responses({ 200: z.object({ domains: z.array(DomainSchema) }) }, base),
          ),
          params: Id,
        },
      },
      async (req, reply) => {
        const domains = await tenancy.listDomains(actor(req), req.params.id);
        return respond(reply, domains.ok ? { ok: true, value: { domains: domains.value } } : domains);
      },
    );
    app.get(
      '/v2/domains/:id',
      {
        schema: {
          ...doc('domains', 'A domain with its DNS records', responses({ 200: DomainSchema }, base)),
          params: Id,
        },
      },
      async (req, reply) => respond(reply, await tenancy.getDomain(actor(req), req.params.id)),
    );
    app.delete(
      '/v2/domains/:id',
      { schema: { ...doc('domains', 'Remove a domain', responses({ 204: NO_CONTENT }, base)), params: Id } },
      async (req, reply) => respond(reply, await tenancy.deleteDomain(actor(req), req.params.id)),
    );
    app.post(
      '/v2/domains/:id/verify',
      {
        schema: {
          ...doc(
            'domains',
            'Check the DNS records; marks the domain verified when the verification TXT record is found',
            responses({ 200: DomainCheckSchema }, base),
          ),
          params: Id,
        },
      },
      async (req, reply) => {
        const domain = await tenancy.getDomain(actor(req), req.params.id);
        if (!domain.ok) return respond(reply, domain);
        const checks = await checkDnsRecords(deps.resolver, domain.value);
        const proven = checks.some((c) => c.purpose === 'verification' && c.ok);
        const after = proven ? await tenancy.markDomainVerified(actor(req), req.params.id) : domain;
        if (!after.ok) return respond(reply, after);
        return reply.send({ verified: after.value.verified, checks, domain: after.value });
      },
    );
    app.post(
      '/v2/domains/:id/dkim/rotate',
      {
        schema: {
          ...doc(
            'domains',
            'Rotate the DKIM key: a new selector signs from now on',
            responses({ 200: DomainSchema }, base),
          ),
          params: Id,
        },
      },
      async (req, reply) => respond(reply, await tenancy.rotateDkim(actor(req), req.params.id)),
    );

    app.post(
      '/v2/servers/:id/credentials',
      {
        schema: {
          ...doc(
            'credentials',
            'Create an API key or SMTP login; the secret is shown only in this answer',
            responses({ 201: z.object({ credential: CredentialSchema, secret: z.string() }) }, withBody),
          ),
          params: Id,
          body: CreateCredential,
        },
      },
      async (req, reply) => respond(reply, await tenancy.createCredential(actor(req), req.params.id, req.body), 201),
    );
    app.get(
      '/v2/servers/:id/credentials',
      {
        schema: {
          ...doc(
            'credentials',
            "A server's credentials (without secrets)",
            responses({ 200: z.object({ credentials: z.array(CredentialSchema) }) }, base),
          ),
          params: Id,
        },
      },
      async (req, reply) => {
        const list = await tenancy.listCredentials(actor(req), req.params.id);
        return respond(reply, list.ok ? { ok: true, value: { credentials: list.value } } : list);
      },
    );
    app.delete(
      '/v2/credentials/:id',
      { schema: { ...doc('credentials', 'Revoke a credential', responses({ 204: NO_CONTENT }, base)), params: Id } },
      async (req, reply) => respond(reply, await tenancy.revokeCredential(actor(req), req.params.id)),
    );

    app.post(
      '/v2/admin-tokens',
      {
        schema: {
          ...doc(
            'admin tokens',
            'Create an admin token; the secret is shown only in this answer',
            responses({ 201: z.object({ token: AdminTokenSchema, secret: z.string() }) }, withBody),
          ),
          body: CreateAdminToken,
        },
      },
      async (req, reply) => respond(reply, await tenancy.createAdminToken(actor(req), req.body), 201),
    );
    app.get(
      '/v2/admin-tokens',
      {
        schema: doc(
          'admin tokens',
          'Admin tokens you can see',
          responses({ 200: z.object({ adminTokens: z.array(AdminTokenSchema) }) }, FAILS.admin),
        ),
      },
      async (req) => ({ adminTokens: await tenancy.listAdminTokens(actor(req)) }),
    );
    app.delete(
      '/v2/admin-tokens/:id',
      { schema: { ...doc('admin tokens', 'Revoke an admin token', responses({ 204: NO_CONTENT }, base)), params: Id } },
      async (req, reply) => respond(reply, await tenancy.revokeAdminToken(actor(req), req.params.id)),
    );

    app.get(
      '/v2/audit',
      {
        schema: {
          ...doc(
            'audit',
            'Configuration changes: who, when, what (newest first)',
            responses({ 200: z.object({ entries: z.array(AuditEntrySchema) }) }, [...FAILS.invalid, ...FAILS.admin]),
          ),
          querystring: z.object({
            limit: z.coerce.number().int().min(1).max(500).default(100),
            before: z.coerce
              .number()
              .int()
              .min(1)
              .max(Number.MAX_SAFE_INTEGER)
              .optional()
              .describe('an id from the previous page'),
          }),
        },
      },
      async (req) => ({
        entries: await tenancy.auditLog(actor(req), { limit: req.query.limit, before: req.query.before }),
      }),
    );
  };
}
