import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { decideResume, isGlobalAdmin } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, responses } from '../../infra/http/responses.js';
import { refusalCode, serverScope } from '../../infra/http/server-scope.js';
import { reputationScopesSince } from '../../infra/reputation/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import type { DeliverabilityStore } from '../../infra/deliverability/index.js';
import {
  appendReputation,
  measure,
  releaseHeld,
  serverSettings,
  type ReputationSettings,
} from './reputation-checks.js';
import { loadReputation } from './reputation-state.js';

export interface ReputationRouteDeps {
  pool: pg.Pool;
  eventStore: EventStore;
  auth: Authenticator;
  tenancy: TenancyStore;
  clock: Clock;
  settings: ReputationSettings;
  /** Servers' own thresholds. */
  deliverability?: DeliverabilityStore | undefined;
}

const security: { [label: string]: string[] }[] = [{ adminToken: [] }];
const percent = (f: number) => Number((f * 100).toFixed(4));
const Rate = z.object({
  percent: z.number().describe('the rate in percent'),
  count: z.number().describe('complaints, or hard bounces'),
  volume: z.number().describe('delivered messages (complaints), delivered and bounced ones (hard bounces)'),
  counts: z.boolean().describe('whether the volume reaches the minimum, so that the rate can warn or pause'),
});
const Pause = z.object({ kind: z.enum(['complaint', 'hard_bounce']), reason: z.string(), at: z.string() });
const Scope = z.object({
  domain: z.string().nullable().describe('the sending domain; null: the whole server'),
  windowStart: z.string(),
  delivered: z.number(),
  bounced: z.number(),
  hardBounces: z.number(),
  complaints: z.number(),
  complaint: Rate,
  hardBounce: Rate,
  warned: z.array(z.enum(['complaint', 'hard_bounce'])),
  paused: Pause.nullable(),
});
const Reputation = z.object({
  serverId: z.string(),
  windowHours: z.number(),
  minVolume: z.number(),
  thresholds: z.object({
    complaint: z.object({ warnPercent: z.number(), pausePercent: z.number() }),
    hardBounce: z.object({ warnPercent: z.number(), pausePercent: z.number() }),
  }),
  paused: z.boolean().describe('new mail of the server, or of one of its domains, is held'),
  scopes: z.array(Scope),
});

const actorLabel = (req: FastifyRequest) => req.postlogActor?.label ?? 'unknown';

/**
 * The reputation guard over the API: a server's rates and state (the server's and each sending
 * domain's), and the operator's resume, which lifts the pause and releases the mail it held.
 */
export function reputationRoutes(deps: ReputationRouteDeps) {
  async function view(serverId: string): Promise<z.infer<typeof Reputation>> {
    const settings = await serverSettings(deps, serverId, deps.settings);
    const at = deps.clock.now().toISOString();
    const { state } = await loadReputation(deps.eventStore, serverId);
    const since = new Date(Date.parse(at) - settings.windowHours * 3600_000).toISOString();
    const counted = (await reputationScopesSince(deps.pool, since, [serverId])).map((s) => s.domain);
    const domains = [...new Set([...counted, ...[...state.keys()].filter((k) => k !== '')])];
    const figures = await measure(deps.pool, serverId, [null, ...domains], state, at, settings);
    const scopes = figures.map((f) => {
      const s = state.get(f.domain ?? '');
      const rate = (r: (typeof f.rates)['complaint']) => ({
        percent: percent(r.rate),
        count: r.count,
        volume: r.volume,
        counts: r.counts,
      });
      return {
        domain: f.domain,
        windowStart: f.windowStart,
        ...f.counts,
        complaint: rate(f.rates.complaint),
        hardBounce: rate(f.rates.hard_bounce),
        warned: s?.warned ?? [],
        paused: s?.paused ? { kind: s.paused.kind, reason: s.paused.reason, at: s.paused.at } : null,
      };
    });
    const t = settings.thresholds;
    return {
      serverId,
      windowHours: settings.windowHours,
      minVolume: settings.minVolume,
      thresholds: {
        complaint: { warnPercent: percent(t.complaint.warn), pausePercent: percent(t.complaint.pause) },
        hardBounce: { warnPercent: percent(t.hard_bounce.warn), pausePercent: percent(t.hard_bounce.pause) },
      },
      paused: scopes.some((s) => s.paused !== null),
      scopes,
    };
  }

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
        return reply.send(await view(req.params.id));
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
        // the pause is the operator's control over a tenant, like the send limit: a global admin lifts it
        if (!req.postlogActor || !isGlobalAdmin(req.postlogActor))
          return sendError(reply, 'FORBIDDEN', 'only a global admin may resume sending');
        const serverId = req.params.id;
        const domain = req.body.domain?.toLowerCase() ?? null;
        let resumed: (string | null)[] = [];
        for (let attempt = 0; ; attempt++) {
          const loaded = await loadReputation(deps.eventStore, serverId);
          const events = decideResume({
            serverId,
            domain,
            state: loaded.state,
            by: actorLabel(req),
            at: deps.clock.now().toISOString(),
          });
          if (events.length === 0) break;
          try {
            await appendReputation(deps.eventStore, serverId, events, loaded.revision, actorLabel(req));
            resumed = events.map((e) => e.data.domain);
            break;
          } catch (err) {
            // the check appended in between: decide again on what it recorded
            if (attempt >= 4) throw err;
          }
        }
        const { state } = await loadReputation(deps.eventStore, serverId);
        const released = await releaseHeld(deps, serverId, state);
        return reply.send({ resumed, released, reputation: await view(serverId) });
      },
    });
  };
}
