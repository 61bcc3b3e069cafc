import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { IsoTimestamp } from '../../infra/http/query-times.js';
import { FAILS, NO_CONTENT, responses, type ErrorStatus } from '../../infra/http/responses.js';
import { resolvesToPrivateAddress } from '../../infra/http/outbound.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import type { WebhookEndpoint, WebhookStore } from '../../infra/webhooks/index.js';
import { WebhookEventName, WebhookFormat, webhookEventNames } from '../../domain/index.js';

export interface WebhookRouteDeps {
  webhooks: WebhookStore;
  auth: Authenticator;
  tenancy: TenancyStore;
  /** Allow endpoints on loopback and private addresses (testing only). */
  allowPrivate: boolean;
}

const Url = z.url({ protocol: /^https?$/ }).max(2000);
const Events = z
  .array(WebhookEventName)
  .min(1)
  .nullable()
  .describe(`Webhook events to send (${webhookEventNames.join(', ')}); null or absent: every event`);
const Format = WebhookFormat.describe(
  'The body format (docs/webhooks.md, "Formats"): postal (the default), postlog, sendgrid, mailgun, postmark, ' +
    'listmonk. Events a format has no counterpart of are not sent to the endpoint',
);
const Id = z.object({ id: z.uuid() });
const Status = z.enum(['pending', 'delivered', 'failed']);
/** A delivery id: a PostgreSQL bigint, so at most 2^63 - 1 (more was a database error, a 500). */
const Cursor = z
  .string()
  .regex(/^\d{1,19}$/, 'a next value from the previous page')
  .refine((v) => !/^\d+$/.test(v) || BigInt(v) <= 9_223_372_036_854_775_807n, 'a next value from the previous page');

const EndpointSchema = z.object({
  id: z.string(),
  serverId: z.string(),
  url: z.string(),
  description: z.string(),
  events: z.array(z.string()).nullable(),
  enabled: z.boolean(),
  format: WebhookFormat,
  publicKey: z
    .string()
    .nullable()
    .describe(
      'sendgrid format: the verification key of X-Twilio-Email-Event-Webhook-Signature (base64 DER, ECDSA P-256)',
    ),
  circuit: z.object({
    state: z.enum(['closed', 'open', 'half-open']),
    consecutiveFailures: z.number(),
    pausedUntil: z.string().nullable(),
  }),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const AttemptSchema = z.object({
  attempt: z.number(),
  at: z.string(),
  statusCode: z.number().nullable(),
  durationMs: z.number(),
  response: z.string().nullable(),
  error: z.string().nullable(),
});
const DeliverySchema = z.object({
  id: z.string().describe('the body\'s "uuid": the same on every retry'),
  endpointId: z.string(),
  eventId: z.string().describe('the Postlog event id (X-Postlog-Event-Id)'),
  event: z.string(),
  eventType: z.string(),
  messageId: z.string().nullable(),
  status: Status,
  attempts: z.array(AttemptSchema),
  nextAttemptAt: z.string().nullable(),
  lastStatusCode: z.number().nullable(),
  lastError: z.string().nullable(),
  eventAt: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
/** Every route: an invalid id (400), a key or token (401), a suspended server (403), one it may not see (404). */
const base: ErrorStatus[] = [...FAILS.invalid, ...FAILS.apiKey, 404];
const withBody: ErrorStatus[] = [...base, ...FAILS.body];

/**
 * Webhook endpoints of a server (admin tokens, or the server's own API key): create, list, change,
 * delete, rotate the signing secret, read the delivery log, and send deliveries again.
 */
export function webhookRoutes(deps: WebhookRouteDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    app.addHook('preHandler', authenticate(deps.auth, ['server', 'admin']));
    const security: { [label: string]: string[] }[] = [{ apiKey: [] }, { adminToken: [] }];
    const doc = (summary: string) => ({ tags: ['webhooks'], summary, security });

    /** The server named in the path, if the caller may act on it. */
    const serverOf = async (
      req: FastifyRequest,
      reply: FastifyReply,
      serverId: string,
    ): Promise<string | undefined> => {
      const scope = await serverScope(deps.tenancy, req, serverId);
      if (!scope.ok) {
        sendError(reply, refusalCode(scope), scope.message);
        return undefined;
      }
      return serverId;
    };
    /** An endpoint the caller may see (others are reported as not found). */
    const endpointOf = async (
      req: FastifyRequest,
      reply: FastifyReply,
      id: string,
    ): Promise<WebhookEndpoint | undefined> => {
      const endpoint = await deps.webhooks.get(id);
      if (endpoint && (await serverScope(deps.tenancy, req, endpoint.serverId)).ok) return endpoint;
      sendError(reply, 'NOT_FOUND', 'webhook endpoint not found');
      return undefined;
    };
    const refusePrivate = async (reply: FastifyReply, url: string): Promise<boolean> => {
      if (deps.allowPrivate) return false;
      const address = await resolvesToPrivateAddress(url);
      if (!address) return false;
      sendError(reply, 'VALIDATION_FAILED', `the endpoint resolves to a private address (${address})`, [
        { path: 'url', message: 'must be a public address' },
      ]);
      return true;
    };

    app.post('/v2/servers/:id/webhooks', {
      schema: {
        ...doc('Add a webhook endpoint; the signing secret (X-Postlog-Signature) is shown only in this answer'),
        params: Id,
        body: z
          .object({
            url: Url,
            events: Events.optional(),
            description: z.string().max(500).default(''),
            enabled: z.boolean().default(true),
            format: Format.default('postal'),
          })
          .strict(),
        response: responses({ 201: z.object({ endpoint: EndpointSchema, secret: z.string() }) }, withBody),
      },
      handler: async (req, reply) => {
        const serverId = await serverOf(req, reply, req.params.id);
        if (!serverId) return reply;
        if (await refusePrivate(reply, req.body.url)) return reply;
        const created = await deps.webhooks.create(serverId, {
          url: req.body.url,
          description: req.body.description,
          events: req.body.events ?? null,
          enabled: req.body.enabled,
          format: req.body.format,
        });
        return reply.code(201).send(created);
      },
    });

    app.get(
      '/v2/servers/:id/webhooks',
      {
        schema: {
          ...doc("A server's webhook endpoints"),
          params: Id,
          response: responses({ 200: z.object({ webhooks: z.array(EndpointSchema) }) }, base),
        },
      },
      async (req, reply) => {
        const serverId = await serverOf(req, reply, req.params.id);
        if (!serverId) return reply;
        return reply.send({ webhooks: await deps.webhooks.list(serverId) });
      },
    );

    app.get(
      '/v2/webhooks/:id',
      {
        schema: {
          ...doc('A webhook endpoint, with its circuit breaker state'),
          params: Id,
          response: responses({ 200: EndpointSchema }, base),
        },
      },
      async (req, reply) => {
        const endpoint = await endpointOf(req, reply, req.params.id);
        return endpoint ? reply.send(endpoint) : reply;
      },
    );

    app.patch('/v2/webhooks/:id', {
      schema: {
        ...doc('Change a webhook endpoint (enabling it also closes its circuit)'),
        params: Id,
        body: z
          .object({
            url: Url.optional(),
            events: Events.optional(),
            description: z.string().max(500).optional(),
            enabled: z.boolean().optional(),
            format: Format.optional(),
          })
          .strict(),
        response: responses({ 200: EndpointSchema }, withBody),
      },
      handler: async (req, reply) => {
        const endpoint = await endpointOf(req, reply, req.params.id);
        if (!endpoint) return reply;
        if (req.body.url && (await refusePrivate(reply, req.body.url))) return reply;
        const updated = await deps.webhooks.update(endpoint.id, req.body);
        return updated ? reply.send(updated) : sendError(reply, 'NOT_FOUND', 'webhook endpoint not found');
      },
    });

    app.delete(
      '/v2/webhooks/:id',
      {
        schema: {
          ...doc('Delete a webhook endpoint and its delivery log'),
          params: Id,
          response: responses({ 204: NO_CONTENT }, base),
        },
      },
      async (req, reply) => {
        const endpoint = await endpointOf(req, reply, req.params.id);
        if (!endpoint) return reply;
        await deps.webhooks.remove(endpoint.id);
        return reply.code(204).send();
      },
    );

    app.post(
      '/v2/webhooks/:id/secret/rotate',
      {
        schema: {
          ...doc('A new signing secret; the old one keeps signing beside it (a second v1) for 24 hours'),
          params: Id,
          response: responses({ 200: z.object({ secret: z.string() }) }, base),
        },
      },
      async (req, reply) => {
        const endpoint = await endpointOf(req, reply, req.params.id);
        if (!endpoint) return reply;
        return reply.send({ secret: await deps.webhooks.rotateSecret(endpoint.id) });
      },
    );

    app.get(
      '/v2/webhooks/:id/deliveries',
      {
        schema: {
          ...doc('The delivery log, newest first, with every attempt (page with cursor=<next>)'),
          params: Id,
          querystring: z.object({
            status: Status.optional(),
            limit: z.coerce.number().int().min(1).max(500).default(50),
            cursor: Cursor.optional(),
          }),
          response: responses(
            { 200: z.object({ deliveries: z.array(DeliverySchema), next: z.string().nullable() }) },
            base,
          ),
        },
      },
      async (req, reply) => {
        const endpoint = await endpointOf(req, reply, req.params.id);
        if (!endpoint) return reply;
        return reply.send(
          await deps.webhooks.deliveries(endpoint.id, {
            status: req.query.status,
            limit: req.query.limit,
            before: req.query.cursor,
          }),
        );
      },
    );

    app.get(
      '/v2/webhooks/:id/deliveries/:delivery',
      {
        schema: {
          ...doc('One delivery with its attempts and the exact body sent'),
          params: z.object({ id: z.uuid(), delivery: z.uuid() }),
          response: responses({ 200: DeliverySchema.extend({ body: z.string() }) }, base),
        },
      },
      async (req, reply) => {
        const endpoint = await endpointOf(req, reply, req.params.id);
        if (!endpoint) return reply;
        const delivery = await deps.webhooks.delivery(endpoint.id, req.params.delivery);
        return delivery ? reply.send(delivery) : sendError(reply, 'NOT_FOUND', 'no such delivery for this endpoint');
      },
    );

    app.post(
      '/v2/webhooks/:id/deliveries/:delivery/redeliver',
      {
        schema: {
          ...doc('Send a delivered or failed delivery again now (same uuid and event id; a fresh retry schedule)'),
          params: z.object({ id: z.uuid(), delivery: z.uuid() }),
          response: responses({ 202: z.object({ queued: z.number() }) }, [...base, 409]),
        },
      },
      async (req, reply) => {
        const endpoint = await endpointOf(req, reply, req.params.id);
        if (!endpoint) return reply;
        const queued = await deps.webhooks.redeliver(endpoint.id, { id: req.params.delivery });
        if (queued === 1) return reply.code(202).send({ queued });
        const exists = await deps.webhooks.delivery(endpoint.id, req.params.delivery);
        return exists
          ? sendError(reply, 'CONFLICT', 'the delivery is still pending')
          : sendError(reply, 'NOT_FOUND', 'no such delivery for this endpoint');
      },
    );

    app.post(
      '/v2/webhooks/:id/redeliver',
      {
        schema: {
          ...doc('Send again every delivery with a status (default failed) whose event happened in [from, to)'),
          params: Id,
          body: z
            .object({ status: z.enum(['failed', 'delivered']).default('failed'), from: IsoTimestamp, to: IsoTimestamp })
            .strict(),
          response: responses({ 202: z.object({ queued: z.number() }) }, withBody),
        },
      },
      async (req, reply) => {
        const endpoint = await endpointOf(req, reply, req.params.id);
        if (!endpoint) return reply;
        if (Date.parse(req.body.from) >= Date.parse(req.body.to))
          return sendError(reply, 'VALIDATION_FAILED', 'from must be before to', [
            { path: 'body.from', message: 'must be before to' },
          ]);
        return reply.code(202).send({ queued: await deps.webhooks.redeliver(endpoint.id, req.body) });
      },
    );
  };
}
