import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { destinationsOf } from '../infra/delivery-queue/index.js';
import { authenticate } from '../infra/http/auth.js';
import { sendError } from '../infra/http/errors.js';
import { IsoDate } from '../infra/http/query-times.js';
import { FAILS, responses, type ErrorStatus } from '../infra/http/responses.js';
import { dailyStats, searchMessages } from '../infra/read-models/index.js';
import { MessageFilters, searchOf } from './message-filters.js';
import type { ReadApiDeps } from './read-deps.js';
import { readableServers } from './readable-servers.js';

export interface ListDeps extends ReadApiDeps {
  pool: pg.Pool;
}

const security: { [label: string]: string[] }[] = [{ apiKey: [] }, { adminToken: [] }];
/** An invalid query (400), a key or token (401), a suspended server (403), a server it may not see (404). */
const fails: ErrorStatus[] = [...FAILS.invalid, ...FAILS.apiKey, 404];
const count = z.number();
const MessageRow = z.object({
  id: z.string(),
  serverId: z.string(),
  batchId: z.string(),
  rfcMessageId: z.string(),
  from: z.string(),
  to: z.string(),
  subject: z.string(),
  tag: z.string().nullable(),
  source: z.string(),
  size: count,
  status: z.string(),
  heldReason: z.string().nullable(),
  attempts: count,
  lastReply: z.string().nullable(),
  bounceClassification: z.string().nullable(),
  opens: count,
  clicks: count,
  acceptedAt: z.string(),
  lastEventAt: z.string(),
  deliveredAt: z.string().nullable(),
  direction: z.enum(['outgoing', 'incoming']),
  /** Postal's spam_status (NotSpam, Spam, NotChecked); null when no scanner looked at it. */
  spamStatus: z.string().nullable(),
  spamScore: z.number().nullable(),
});
const StatsDay = z
  .object({ server_id: z.string(), day: z.string() })
  .catchall(count)
  .describe(
    'accepted, held, delivered, deferred, bounced, failed, cancelled, opened_total, opened_unique, clicked_total, clicked_unique, complained, unsubscribed',
  );
const QueueDestination = z.object({
  domain: z.string(),
  queued: count,
  retrying: count,
  held: count,
  sending: count,
  oldest_due: z.string().nullable(),
});

const encodeCursor = (at: string, id: string) => Buffer.from(`${at}|${id}`).toString('base64url');
function decodeCursor(cursor: string): { at: string; id: string } | undefined {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  return at && id && /^\d+$/.test(id) && !Number.isNaN(Date.parse(at)) ? { at, id } : undefined;
}

/**
 * The admin API over the read models: list and search messages (cursor pagination), daily
 * stats, the delivery queue per destination. API keys see their server; admin tokens their
 * organization's servers.
 */
export function messageListRoutes(deps: ListDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    const auth = authenticate(deps.auth, ['server', 'admin']);

    app.get('/v2/messages', {
      preHandler: auth,
      schema: {
        tags: ['messages'],
        summary: 'List and search messages, newest first (from the read model: may lag the log by a moment)',
        security,
        querystring: MessageFilters.extend({
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().max(200).optional(),
        }),
        response: responses(
          { 200: z.object({ messages: z.array(MessageRow), nextCursor: z.string().nullable() }) },
          fails,
        ),
      },
      handler: async (req, reply) => {
        const servers = await readableServers(deps.tenancy, req, reply, req.query.serverId);
        if (servers === undefined) return reply;
        const cursor = req.query.cursor ? decodeCursor(req.query.cursor) : undefined;
        if (req.query.cursor && !cursor)
          return sendError(reply, 'VALIDATION_FAILED', 'cursor is not valid', [
            { path: 'querystring.cursor', message: 'is not valid' },
          ]);
        const q = req.query;
        const rows = await searchMessages(deps.pool, {
          ...searchOf(servers, q),
          before: cursor ?? null,
          limit: q.limit,
        });
        const messages = rows.map((r) => ({
          id: r.id,
          serverId: r.server_id,
          batchId: r.batch_id,
          rfcMessageId: r.rfc_message_id,
          from: r.mail_from,
          to: r.rcpt_to,
          subject: r.subject,
          tag: r.tag,
          source: r.source,
          size: r.size,
          status: r.status,
          heldReason: r.held_reason,
          attempts: r.attempts,
          lastReply: r.last_reply,
          bounceClassification: r.bounce_classification,
          opens: r.opens,
          clicks: r.clicks,
          acceptedAt: r.accepted_at.toISOString(),
          lastEventAt: r.last_event_at.toISOString(),
          deliveredAt: r.delivered_at ? r.delivered_at.toISOString() : null,
          direction: r.direction,
          spamStatus: r.spam_status,
          spamScore: r.spam_score,
        }));
        const last = messages[messages.length - 1];
        return reply.send({
          messages,
          nextCursor: messages.length === q.limit && last ? encodeCursor(last.acceptedAt, last.id) : null,
        });
      },
    });

    app.get('/v2/stats', {
      preHandler: auth,
      schema: {
        tags: ['stats'],
        summary:
          'Daily counts per server (accepted, delivered, deferred, bounced, failed, opens and clicks unique and total, complaints, unsubscribes)',
        security,
        querystring: z.object({ serverId: z.uuid().optional(), since: IsoDate.optional(), until: IsoDate.optional() }),
        response: responses({ 200: z.object({ days: z.array(StatsDay), totals: z.record(z.string(), count) }) }, fails),
      },
      handler: async (req, reply) => {
        const servers = await readableServers(deps.tenancy, req, reply, req.query.serverId);
        if (servers === undefined) return reply;
        const rows = await dailyStats(deps.pool, servers, req.query.since ?? null, req.query.until ?? null);
        const totals: Record<string, number> = {};
        for (const r of rows)
          for (const [k, v] of Object.entries(r)) if (typeof v === 'number') totals[k] = (totals[k] ?? 0) + v;
        return reply.send({ days: rows, totals });
      },
    });

    app.get('/v2/queue', {
      preHandler: auth,
      schema: {
        tags: ['queue'],
        summary: 'The delivery queue per recipient domain: queued, retrying, held, oldest due',
        security,
        querystring: z.object({ serverId: z.uuid().optional() }),
        response: responses({ 200: z.object({ destinations: z.array(QueueDestination) }) }, fails),
      },
      handler: async (req, reply) => {
        const servers = await readableServers(deps.tenancy, req, reply, req.query.serverId);
        if (servers === undefined) return reply;
        const rows = await destinationsOf(deps.pool, servers);
        return reply.send({
          destinations: rows.map((r) => ({ ...r, oldest_due: r.oldest_due ? r.oldest_due.toISOString() : null })),
        });
      },
    });
  };
}
