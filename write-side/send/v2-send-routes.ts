import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  mailboxHeader,
  parseMailbox,
  parseRecipient,
  type Mailbox,
  type RecipientOptions,
  type Server,
} from '../../domain/index.js';
import { authenticate } from '../../infra/http/auth.js';
import type { HttpErrorCode } from '../../infra/http/error-catalogue.js';
import { sendError } from '../../infra/http/errors.js';
import { responses } from '../../infra/http/responses.js';
import type { IdempotencyKeys } from '../../infra/messages/index.js';
import type { TemplateStore } from '../../infra/templates/index.js';
import type { TrackingChoice } from '../tracking/personalize.js';
import { checkCustomHeaders } from './compose.js';
import type { SendApiDeps } from './send-deps.js';
import { sendEmails, type EmailToSend } from './send-emails.js';
import { V2SendBody, V2SendResponse } from './v2-schemas.js';

type Fail = { code: HttpErrorCode; message: string; fields?: { path: string; message: string }[] };
const invalid = (path: string, message: string): Fail => ({
  code: 'VALIDATION_FAILED',
  message: `${path} ${message}`,
  fields: [{ path, message }],
});

/** POST /v2/messages: one message or a batch, with variables, scheduling and Idempotency-Key. */
export function v2SendRoutes(deps: SendApiDeps & { idempotency: IdempotencyKeys; templates: TemplateStore }) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    app.post('/v2/messages', {
      preHandler: authenticate(deps.auth, ['server']),
      config: { rateLimit: {} },
      schema: {
        tags: ['messages'],
        summary: 'Send a message, or a batch of individually addressed messages',
        security: [{ apiKey: [] }],
        headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }).loose(),
        body: V2SendBody,
        // 503: the log refused the append (nothing was accepted; retry)
        response: responses(
          { 202: V2SendResponse, 200: V2SendResponse },
          [400, 401, 403, 409, 413, 415, 422, 429, 503],
        ),
      },
      handler: async (req, reply) => {
        const server = req.postlogServer!;
        const body = req.body;
        const key = req.headers['idempotency-key'];
        const plan = planRecipients(body, deps.recipients);
        if ('code' in plan) return sendError(reply, plan.code, plan.message, plan.fields);

        // ids first: each copy's tracking links and unsubscribe address name its message
        let messageIds: number[];
        if (key !== undefined) {
          const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
          const begun = await deps.idempotency.begin(server.id, key, requestHash, () =>
            deps.ids.take(plan.recipients.length),
          );
          if (begun.kind === 'mismatch')
            return sendError(
              reply,
              'IDEMPOTENCY_KEY_REUSED',
              'this Idempotency-Key was used with a different request body',
            );
          if (begun.kind === 'in_progress')
            return sendError(
              reply,
              'IDEMPOTENCY_IN_PROGRESS',
              'a request with this Idempotency-Key is still being processed; retry shortly',
            );
          if (begun.kind === 'replay')
            return reply
              .code(begun.statusCode as 202)
              .header('idempotent-replayed', 'true')
              .send(begun.response as z.infer<typeof V2SendResponse>);
          messageIds = begun.messageIds;
        } else {
          messageIds = await deps.ids.take(plan.recipients.length);
        }
        const result = await sendEmails(deps, {
          server,
          from: plan.from,
          fromHeader: body.from,
          emails: emailsOf(body, plan, server),
          tag: body.tag,
          metadata: body.metadata,
          scheduledAt: body.send_at,
          requireTls: body.require_tls,
          messageIds,
          idempotencySeed: key !== undefined ? `${server.id}:${key}` : undefined,
          ip: req.ip,
          correlationId: req.id,
        });
        if (!result.ok) {
          if (key !== undefined && result.error.code !== 'NOT_ACCEPTED') await deps.idempotency.release(server.id, key);
          if (result.error.code === 'NOT_ACCEPTED') req.log.error({ error: result.error }, 'accepting messages failed');
          return sendError(reply, result.error.code, result.error.message, result.error.fields);
        }
        const response = {
          batch_id: result.value.batchId,
          messages: result.value.messages.map((m) => ({
            id: String(m.id),
            to: m.to.address,
            token: m.token,
            status: m.status,
            held_reason: m.heldReason ?? null,
          })),
        };
        if (key !== undefined) await deps.idempotency.complete(server.id, key, 202, response);
        return reply.code(202).send(response);
      },
    });
  };
}

interface PlannedRecipient {
  mailbox: Mailbox;
  /** The To header value of this copy (cc/bcc copies show the single To recipient). */
  headerTo: string;
  vars: Record<string, string>;
  /** Index of the body.to entry this copy belongs to (for error paths). */
  index: number;
}

interface Plan {
  from: Mailbox;
  recipients: PlannedRecipient[];
}

/** Validates the addresses and headers and lists every copy to send, before anything is composed. */
function planRecipients(body: V2SendBody, options: RecipientOptions): Plan | Fail {
  const from = parseMailbox(body.from);
  if (!from.ok) return invalid('from', from.error);
  if (body.reply_to !== undefined) {
    const replyTo = parseMailbox(body.reply_to);
    if (!replyTo.ok) return invalid('reply_to', replyTo.error);
  }
  const badHeader = checkCustomHeaders(body.headers ?? {});
  if (badHeader) return invalid(`headers.${badHeader.name}`, badHeader.problem);
  const extra: Mailbox[] = [];
  for (const [field, list] of [
    ['cc', body.cc],
    ['bcc', body.bcc],
  ] as const) {
    for (const [i, a] of list.entries()) {
      const m = parseRecipient(a, options);
      if (!m.ok) return invalid(`${field}[${i}]`, m.error);
      extra.push(m.value);
    }
  }
  const recipients: PlannedRecipient[] = [];
  const seen = new Set<string>();
  for (const [i, r] of body.to.entries()) {
    const entry = typeof r === 'string' ? { address: r } : r;
    const display = mailboxHeader(entry);
    const to = parseRecipient(typeof r === 'string' ? r : display, options);
    if (!to.ok) return invalid(`to[${i}]`, to.error);
    if (seen.has(to.value.address.toLowerCase()))
      return invalid(`to[${i}]`, `${to.value.address} appears more than once`);
    seen.add(to.value.address.toLowerCase());
    const headerTo = typeof r === 'string' ? r : display;
    const vars = { ...body.variables, ...(typeof r === 'string' ? {} : r.variables) };
    recipients.push({ mailbox: to.value, headerTo, vars, index: i });
    // Cc and Bcc recipients get their own copy of the single To recipient's message
    if (body.to.length === 1) {
      for (const m of extra) {
        if (seen.has(m.address.toLowerCase())) continue;
        seen.add(m.address.toLowerCase());
        recipients.push({ mailbox: m, headerTo, vars, index: i });
      }
    }
  }
  return { from: from.value, recipients };
}

/** Each planned copy as an email of its own (its own MIME and Message-ID), as /v2 has always sent them. */
function emailsOf(body: V2SendBody, plan: Plan, server: Server): EmailToSend[] {
  const tracking: TrackingChoice = {
    trackOpens: body.track_opens ?? server.trackOpens,
    trackClicks: body.track_clicks ?? server.trackClicks,
    unsubscribe: body.unsubscribe ?? server.listUnsubscribe,
  };
  const attachments = body.attachments.map((a) => ({
    filename: a.filename,
    contentType: a.content_type,
    content: Buffer.from(a.content, 'base64'),
  }));
  const { template } = body;
  return plan.recipients.map((r) => ({
    to: [r.headerTo],
    cc: body.to.length === 1 ? body.cc : [],
    replyTo: body.reply_to,
    recipients: [r.mailbox],
    content: template
      ? { template: { id: template.id, alias: template.alias, version: template.version, model: template.model } }
      : { subject: body.subject ?? '', text: body.text, html: body.html },
    vars: r.vars,
    headers: body.headers ?? {},
    attachments,
    tracking,
    path: `to[${r.index}]`,
  }));
}
