import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isGlobalAdmin, ShapingRulesSchema } from '../../domain/index.js';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { FAILS, responses } from '../../infra/http/responses.js';
import type { ShapingRuntime } from './shaping-runtime.js';
import { warmupView, type AddressWarmup } from './warmup-view.js';

const Problem = z.object({
  file: z.string(),
  line: z.number(),
  column: z.number(),
  field: z.string(),
  message: z.string(),
});

const Warmup = z.object({
  address: z.string(),
  pool: z.string(),
  enabled: z.boolean().describe("warm-up applies to the address's pool"),
  overflow: z.enum(['other-ip', 'wait']),
  startedOn: z.string().describe('day 1 of its warm-up (UTC, YYYY-MM-DD)'),
  day: z.number().describe('which day of the warm-up today is'),
  warm: z.boolean().describe("past the schedule's last day: no allowance"),
  providers: z.array(
    z.object({
      provider: z.string(),
      sentToday: z.number(),
      allowance: z.number().nullable().describe("today's allowance; null: none (warm, or warm-up off)"),
    }),
  ),
});

const Bucket = z.object({
  bucket: z.string().describe('provider:<name> for a provider of the rules, else the MX host'),
  maxConnections: z.number(),
  allowed: z.number().describe('connections allowed now (lowered by back-off, earned back by successes)'),
  active: z.number().describe('connections in use'),
  pausedUntil: z.string().nullable(),
  rateScale: z.number().describe('the rates are multiplied by this after a back-off'),
  messagesPerMinute: z.number(),
  messagesPerHour: z.number(),
  sentLastMinute: z.number(),
  sentLastHour: z.number(),
  lastBackOff: z.object({ at: z.string(), reply: z.string() }).nullable(),
});

/**
 * `GET /v2/shaping` and `GET /v2/ip-pools/{name}/warmup` (global admins): the shaping rules in force
 * (shipped file and the operator's merged), the last reload problem, each bucket's live state in this
 * process's MTA, and the warm-up of each pool address.
 */
export function shapingRoutes(deps: { runtime: ShapingRuntime; auth: Authenticator }) {
  const { runtime } = deps;
  const warmup = async (): Promise<AddressWarmup[]> => {
    const now = runtime.d.clock.now();
    const records = await runtime.d.warmup.records(now.toISOString().slice(0, 10));
    return warmupView(runtime.rules.rules, runtime.d.pools, records, now);
  };
  return async (root: FastifyInstance) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    app.get('/v2/shaping', {
      preHandler: authenticate(deps.auth, ['admin']),
      schema: {
        tags: ['operations'],
        summary: 'The shaping rules in force, each provider’s current state and the IP warm-up (global admins)',
        security: [{ adminToken: [] }, { session: [] }],
        response: responses(
          {
            200: z.object({
              files: z.array(z.string()).describe('the files merged, shipped first'),
              loadedAt: z.string(),
              generation: z.number().describe('how many reloads took effect'),
              lastError: z.object({ at: z.string(), problems: z.array(Problem) }).nullable(),
              rules: ShapingRulesSchema,
              buckets: z
                .array(Bucket)
                .nullable()
                .describe("null when this process runs no MTA (POSTLOG_ROLES): ask the MTA's API"),
              warmup: z.array(Warmup),
            }),
          },
          FAILS.admin,
        ),
      },
      handler: async (req, reply) => {
        if (!isGlobalAdmin(req.postlogActor!)) return sendError(reply, 'FORBIDDEN', 'only a global admin sees shaping');
        const store = runtime.rules;
        return {
          files: store.sources,
          loadedAt: store.loadedAt.toISOString(),
          generation: store.generation,
          lastError: store.lastError
            ? { at: store.lastError.at.toISOString(), problems: store.lastError.problems }
            : null,
          rules: store.rules,
          buckets: runtime.delivering
            ? runtime.shaper.snapshot().map((b) => ({
                ...b,
                pausedUntil: b.pausedUntil > Date.now() ? new Date(b.pausedUntil).toISOString() : null,
                lastBackOff: b.lastBackOff
                  ? { at: new Date(b.lastBackOff.at).toISOString(), reply: b.lastBackOff.reply }
                  : null,
              }))
            : null,
          warmup: await warmup(),
        };
      },
    });
    app.get('/v2/ip-pools/:name/warmup', {
      preHandler: authenticate(deps.auth, ['admin']),
      schema: {
        tags: ['servers'],
        summary: "The warm-up of a sending IP pool's addresses: day, today's counts and allowances (global admins)",
        security: [{ adminToken: [] }, { session: [] }],
        params: z.object({ name: z.string().min(1) }),
        response: responses({ 200: z.object({ pool: z.string(), addresses: z.array(Warmup) }) }, [...FAILS.admin, 404]),
      },
      handler: async (req, reply) => {
        if (!isGlobalAdmin(req.postlogActor!)) return sendError(reply, 'FORBIDDEN', 'only a global admin sees warm-up');
        if (!runtime.d.pools[req.params.name]) return sendError(reply, 'NOT_FOUND', 'no such IP pool');
        return { pool: req.params.name, addresses: (await warmup()).filter((a) => a.pool === req.params.name) };
      },
    });
  };
}
