import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseMailbox, parseRecipient, type Mailbox, type RecipientOptions, type Server } from '../../domain/index.js';
import { authenticate } from '../../infra/http/auth.js';
import type { HttpErrorCode } from '../../infra/http/error-catalogue.js';
import { sendError } from '../../infra/http/errors.js';
import { responses } from '../../infra/http/responses.js';
import type { IdempotencyKeys } from '../../infra/messages/index.js';
import { personalize, type TrackingChoice } from '../tracking/personalize.js';
import { acceptMessages, type MessageToAccept } from './accept-messages.js';
import { checkCustomHeaders, composeMime } from './compose.js';
import { virusFields } from './outbound-virus-check.js';
import type { SendApiDeps } from './send-deps.js';
import { substitute } from './substitute.js';
import { trackingContext } from './tracking-context.js';
import { V2SendBody, V2SendResponse } from './v2-schemas.js';
import type { TemplateContent, TemplateStore } from '../../infra/templates/index.js';
import { renderTemplate } from '../templates/render.js';

type Fail = { code: HttpErrorCode; message: string; fields?: { path: string; message: string }[] };
/** All composed copies of one request together. */
const MAX_REQUEST_BYTES = 256 * 1024 * 1024;
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
        const composed = await compose(deps, server, body, plan, messageIds, req.ip);
        if ('code' in composed) {
          if (key !== undefined) await deps.idempotency.release(server.id, key);
          return sendError(reply, composed.code, composed.message, composed.fields);
        }
        const result = await acceptMessages(deps, {
          server,
          from: plan.from,
          contents: composed.contents,
          messages: composed.messages,
          tag: body.tag,
          metadata: body.metadata,
          scheduledAt:
            body.send_at && Date.parse(body.send_at) > deps.clock.now().getTime()
              ? new Date(body.send_at).toISOString()
              : undefined,
          source: 'api',
          messageIds,
          idempotencySeed: key !== undefined ? `${server.id}:${key}` : undefined,
          correlationId: req.id,
          actor: 'api',
        });
        if (!result.ok) {
          if (key !== undefined && result.error.code !== 'LOG_REJECTED') await deps.idempotency.release(server.id, key);
          if (result.error.code === 'UNAUTHENTICATED_FROM_ADDRESS')
            return sendError(reply, 'UNAUTHENTICATED_FROM_ADDRESS', result.error.message, [
              { path: 'from', message: result.error.message },
            ]);
          if (result.error.code === 'NO_RECIPIENTS') return sendError(reply, 'NO_RECIPIENTS', result.error.message);
          if (result.error.code === 'INVALID_MESSAGE_BYTES')
            return sendError(reply, 'INVALID_MESSAGE_BYTES', result.error.message);
          if (result.error.code === 'SPAM_CHECK_UNAVAILABLE')
            return sendError(reply, 'SPAM_CHECK_UNAVAILABLE', result.error.message);
          if (result.error.code === 'VIRUS_FOUND')
            return sendError(reply, 'VIRUS_FOUND', result.error.message, virusFields(result.error.virus));
          if (result.error.code === 'VIRUS_SCAN_UNAVAILABLE')
            return sendError(reply, 'VIRUS_SCAN_UNAVAILABLE', result.error.message);
          req.log.error({ error: result.error }, 'accepting messages failed');
          return sendError(
            reply,
            'NOT_ACCEPTED',
            'the messages could not be stored; nothing was accepted, please retry',
          );
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
    const display = entry.name ? `"${entry.name.replace(/["\\]/g, '')}" <${entry.address}>` : entry.address;
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

/** Substitutes variables, personalizes tracking and composes each copy's MIME. */
async function compose(
  deps: SendApiDeps & { templates: TemplateStore },
  server: Server,
  body: V2SendBody,
  plan: Plan,
  ids: number[],
  ip: string,
): Promise<{ contents: Buffer[]; messages: MessageToAccept[] } | Fail> {
  const choice: TrackingChoice = {
    trackOpens: body.track_opens ?? server.trackOpens,
    trackClicks: body.track_clicks ?? server.trackClicks,
    unsubscribe: body.unsubscribe ?? server.listUnsubscribe,
  };
  const tracking =
    body.html !== undefined || body.template !== undefined || choice.unsubscribe
      ? await trackingContext(deps, server, plan.from.domain)
      : undefined;
  const contents: Buffer[] = [];
  const messages: MessageToAccept[] = [];
  const template = body.template ? await templateVersion(deps.templates, server.id, body.template) : undefined;
  if (template && 'code' in template) return template;
  let total = 0;
  for (const [n, r] of plan.recipients.entries()) {
    const parts = template ? renderFor(template, body.template!.model, r) : substituteFor(body, r);
    if ('code' in parts) return parts;
    const { subject, text, html } = parts;
    const personal = tracking ? personalize(tracking, String(ids[n]), html, choice) : { html, headers: {} };
    const messageId = `${randomUUID()}@${deps.hostname}`;
    const raw = await composeMime({
      from: body.from,
      to: [r.headerTo],
      cc: body.to.length === 1 ? body.cc : [],
      replyTo: body.reply_to,
      subject,
      text,
      html: personal.html,
      attachments: body.attachments.map((a) => ({
        filename: a.filename,
        contentType: a.content_type,
        content: Buffer.from(a.content, 'base64'),
      })),
      headers: { ...(body.headers ?? {}), ...personal.headers },
      messageId,
      date: deps.clock.now(),
      received: `from api ([${ip}]) by ${deps.hostname} with HTTP; ${deps.clock.now().toUTCString()}`,
    });
    if (raw.length > deps.maxMessageBytes) {
      return {
        code: 'MESSAGE_TOO_LARGE',
        message: `the message to ${r.mailbox.address} is ${raw.length} bytes; the limit is ${deps.maxMessageBytes}`,
      };
    }
    contents.push(raw);
    total += raw.length;
    // a thousand personal copies of a large message would exhaust memory: the request as a whole is bounded too
    if (total > MAX_REQUEST_BYTES)
      return {
        code: 'REQUEST_TOO_LARGE',
        message: `the copies of this request exceed ${MAX_REQUEST_BYTES} bytes: send fewer recipients per request`,
      };
    messages.push({
      to: r.mailbox,
      content: contents.length - 1,
      rfcMessageId: messageId,
      subject,
      ...(template ? { template: template.ref } : {}),
    });
  }
  return { contents, messages };
}

interface Parts {
  subject: string;
  text: string | undefined;
  html: string | undefined;
}

/** The body's own subject, text and html with the recipient's {{variables}} put in. */
function substituteFor(body: V2SendBody, r: PlannedRecipient): Parts | Fail {
  const subject = substitute(body.subject ?? '', r.vars, false);
  const text = body.text !== undefined ? substitute(body.text, r.vars, false) : undefined;
  const html = body.html !== undefined ? substitute(body.html, r.vars, true) : undefined;
  const missing = [...new Set([...subject.missing, ...(text?.missing ?? []), ...(html?.missing ?? [])])];
  if (missing.length > 0)
    return invalid(`to[${r.index}].variables`, `has no value for ${missing.map((m) => `{{${m}}}`).join(', ')}`);
  return { subject: subject.text, text: text?.text, html: html?.text };
}

interface ChosenTemplate {
  ref: { id: string; alias: string; version: number };
  content: TemplateContent;
}

/** The template version a send names (its current one unless a version is given). */
async function templateVersion(
  templates: TemplateStore,
  serverId: string,
  wanted: NonNullable<V2SendBody['template']>,
): Promise<ChosenTemplate | Fail> {
  const template = wanted.id ? await templates.get(wanted.id) : await templates.byAlias(serverId, wanted.alias!);
  const found = template?.serverId === serverId ? template : undefined;
  const version = found && (await templates.version(found.id, wanted.version ?? found.currentVersion));
  if (!found || !version)
    return {
      code: 'UNKNOWN_TEMPLATE',
      message: `the server has no template ${wanted.id ?? wanted.alias}${wanted.version ? ` version ${wanted.version}` : ''}`,
      fields: [{ path: 'template', message: 'no such template (or version) on this server' }],
    };
  return { ref: { id: found.id, alias: found.alias, version: version.version }, content: version };
}

/** The template rendered with the model and the recipient's variables (theirs win). */
function renderFor(template: ChosenTemplate, model: Record<string, unknown>, r: PlannedRecipient): Parts | Fail {
  const rendered = renderTemplate(template.content, { ...model, ...r.vars });
  if (!rendered.ok)
    return {
      code: rendered.error.code,
      message: `to[${r.index}]: ${rendered.error.message}`,
      fields: [
        {
          path: rendered.error.variable ? `template.model.${rendered.error.variable}` : 'template',
          message: rendered.error.message,
        },
      ],
    };
  return rendered.value;
}
