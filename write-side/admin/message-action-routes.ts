import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { isGlobalAdmin, type IncomingState, type MessageCommandInput } from '../../domain/index.js';
import type { RouteStore } from '../../infra/routes/index.js';
import { handleIncomingCommand, loadIncoming } from '../incoming/incoming-command-handler.js';
import { isBeingDelivered, messagesForBulkAction } from '../../infra/delivery-queue/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, responses } from '../../infra/http/responses.js';
import { serverScope } from '../../infra/http/server-scope.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { handleMessageCommand, loadMessage } from '../message-command-handler.js';

export interface MessageActionDeps {
  eventStore: EventStore;
  /** The route of an incoming message, whose endpoints a release hands it to. */
  routes: RouteStore;
  auth: Authenticator;
  tenancy: TenancyStore;
  pool: pg.Pool;
}

const Action = z.enum(['hold', 'release', 'cancel', 'retry']);
/** One message may also be sent again (Postal #712); in bulk that is not offered. */
const OneMessageAction = z.enum([...Action.options, 'redeliver']);
const MessageId = z.string().regex(/^\d{1,18}$/);
type OneMessageAction = z.infer<typeof OneMessageAction>;

function commandFor(action: OneMessageAction, by: string, operator: boolean): MessageCommandInput {
  const at = new Date().toISOString();
  switch (action) {
    case 'hold':
      return { type: 'Hold', reason: 'manual', detail: `held by ${by}`, at };
    case 'release':
      return { type: 'Release', by, operator, at };
    case 'cancel':
      return { type: 'Cancel', by, at };
    case 'retry':
      return { type: 'Queue', dueAt: at, at };
    case 'redeliver':
      return { type: 'Redeliver', by, at };
  }
}

const actorLabel = (req: FastifyRequest) =>
  req.postlogServer ? `api-key:${req.postlogServer.id}` : (req.postlogActor?.label ?? 'unknown');

/** Whether the request acts as a global admin (only one may lift a hold the operator's controls put on). */
const globalAdmin = (req: FastifyRequest): boolean => req.postlogActor !== undefined && isGlobalAdmin(req.postlogActor);

/** Servers the caller may act on; a global admin acting in bulk must name one. */
async function actionScope(
  deps: MessageActionDeps,
  req: FastifyRequest,
  serverId: string | undefined,
): Promise<string[] | { error: string; roleForbids?: true }> {
  const scope = await serverScope(deps.tenancy, req, serverId);
  // a user who sees the server but whose role only reads is told so
  if (!scope.ok && scope.status === 403 && !req.postlogServer) return { error: scope.message, roleForbids: true };
  if (!scope.ok)
    return { error: req.postlogServer && serverId ? 'an API key acts on its own server only' : 'no such server' };
  if (scope.servers === null) return { error: 'a global admin must name the server (serverId)' };
  return scope.servers;
}

/**
 * Operator actions on messages: hold, release, cancel and "retry now" — one message, or many at
 * once by filter (Postal has no bulk release: #257). Every action is a command on the message's
 * stream; illegal ones (cancelling a delivered message) are refused per message.
 */
export function messageActionRoutes(deps: MessageActionDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    const auth = authenticate(deps.auth, ['server', 'admin']);

    app.post('/v2/messages/:id/:action', {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary:
          'Hold, release, cancel or retry one message now, or redeliver a delivered, failed or bounced one ' +
          'from its stored content',
        security: [{ apiKey: [] }, { adminToken: [] }],
        params: z.object({ id: MessageId, action: OneMessageAction }),
        response: responses(
          {
            200: z.object({
              id: z.string(),
              status: z.string(),
              events: z.array(z.string()).describe('the events the action recorded'),
            }),
          },
          // 409: not legal in the message's state, or a worker is delivering it right now;
          // 410: redeliver, but the content is gone (retention)
          [...FAILS.invalid, ...FAILS.apiKey, 404, 409, 410],
        ),
      },
      handler: async (req, reply) => {
        const incoming = await loadIncoming(deps.eventStore, req.params.id);
        if (incoming.ok && incoming.value.state.status !== 'none')
          return incomingAction(req, reply, incoming.value.state);
        const loaded = await loadMessage(deps.eventStore, req.params.id);
        const serverId = loaded.ok ? loaded.value.state.serverId : undefined;
        const scope = serverId ? await actionScope(deps, req, serverId) : [];
        if (!Array.isArray(scope) && scope.roleForbids) return sendError(reply, 'FORBIDDEN', scope.error);
        if (!loaded.ok || !serverId || !Array.isArray(scope) || !scope.includes(serverId)) {
          return sendError(reply, 'MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
        }
        if (req.params.action === 'retry') {
          // a lease has an owner; an ownerless lease_until is a worker's "not before", which a retry overrides
          if (await isBeingDelivered(deps.pool, req.params.id))
            return sendError(
              reply,
              'MESSAGE_BEING_DELIVERED',
              'a worker is delivering this message right now; its outcome comes first',
            );
        }
        const result = await handleMessageCommand(
          deps.eventStore,
          req.params.id,
          commandFor(req.params.action, actorLabel(req), globalAdmin(req)),
          {
            correlationId: req.id,
            serverId,
            actor: actorLabel(req),
          },
        );
        if (!result.ok)
          return sendError(
            reply,
            result.error.code,
            'message' in result.error ? result.error.message : result.error.code,
          );
        return reply.send({
          id: req.params.id,
          status: result.value.state.status,
          events: result.value.events.map((e) => e.type),
        });
      },
    });

    /** Release (held) or retry (failed or delivered) an incoming message; it is not held or cancelled. */
    async function incomingAction(
      req: FastifyRequest<{ Params: { id: string; action: OneMessageAction } }>,
      reply: FastifyReply,
      state: IncomingState,
    ) {
      const serverId = state.serverId!;
      const scope = await actionScope(deps, req, serverId);
      if (!Array.isArray(scope) && scope.roleForbids) return sendError(reply, 'FORBIDDEN', scope.error);
      if (!Array.isArray(scope) || !scope.includes(serverId))
        return sendError(reply, 'MESSAGE_NOT_FOUND', `no message ${req.params.id}`);
      const at = new Date().toISOString();
      const { action } = req.params;
      if (action !== 'release' && action !== 'retry')
        return sendError(
          reply,
          'ACTION_NOT_FOR_INCOMING',
          `an incoming message cannot be ${action === 'hold' ? 'held' : action === 'cancel' ? 'cancelled' : 'redelivered (retry it)'}`,
        );
      // released to the endpoints its route has now
      const route = action === 'release' && state.routeId ? await deps.routes.get(state.routeId) : undefined;
      const endpoints =
        route?.mode === 'endpoint'
          ? route.endpoints.map((e) => ({ endpointId: e.id, kind: e.kind, target: e.target }))
          : [];
      const result = await handleIncomingCommand(
        deps.eventStore,
        req.params.id,
        action === 'release' ? { type: 'Release', endpoints, at } : { type: 'Retry', at },
        { correlationId: req.id, serverId, actor: actorLabel(req) },
      );
      if (!result.ok)
        return sendError(
          reply,
          result.error.code === 'NOT_ROUTING' ||
            result.error.code === 'UNKNOWN_ENDPOINT' ||
            result.error.code === 'ENDPOINT_NOT_PENDING'
            ? 'CONCURRENCY_CONFLICT'
            : result.error.code,
          'message' in result.error ? result.error.message : result.error.code,
        );
      return reply.send({
        id: req.params.id,
        status: result.value.state.status,
        events: result.value.events.map((e) => e.type),
      });
    }

    app.post('/v2/messages/bulk/:action', {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary: 'Hold, release, cancel or retry every message matching a filter (at most 10,000 per call)',
        security: [{ apiKey: [] }, { adminToken: [] }],
        params: z.object({ action: Action }),
        body: z
          .object({
            serverId: z.uuid().optional(),
            /** held: waiting for release; queued: waiting for delivery (including deferred). */
            state: z.enum(['held', 'queued']).optional(),
            recipientDomain: z.string().min(1).max(253).optional(),
            ids: z.array(MessageId).max(10_000).optional(),
            limit: z.number().int().min(1).max(10_000).default(1000),
          })
          .strict(),
        response: responses(
          {
            200: z.object({
              action: Action,
              matched: z.number(),
              applied: z.number(),
              failed: z
                .array(z.object({ id: z.string(), code: z.string() }))
                .describe('messages the action was not legal for, with the reason'),
            }),
          },
          // 400 also for a scope the caller may not act on (INVALID_SCOPE)
          [...FAILS.apiKey, ...FAILS.body],
        ),
      },
      handler: async (req, reply) => {
        const scope = await actionScope(deps, req, req.body.serverId);
        if (!Array.isArray(scope))
          return sendError(reply, scope.roleForbids ? 'FORBIDDEN' : 'INVALID_SCOPE', scope.error);
        const state = req.body.state ?? (req.params.action === 'release' ? 'held' : 'queued');
        const ids = await messagesForBulkAction(deps.pool, {
          servers: scope,
          state,
          recipientDomain: req.body.recipientDomain ?? null,
          ids: req.body.ids ?? null,
          limit: req.body.limit,
        });
        const failed: { id: string; code: string }[] = [];
        let applied = 0;
        for (const id of ids) {
          const result = await handleMessageCommand(
            deps.eventStore,
            id,
            commandFor(req.params.action, actorLabel(req), globalAdmin(req)),
            { correlationId: req.id, actor: actorLabel(req) },
          );
          if (result.ok) applied++;
          else failed.push({ id, code: result.error.code });
        }
        return reply.send({ action: req.params.action, matched: ids.length, applied, failed });
      },
    });
  };
}
