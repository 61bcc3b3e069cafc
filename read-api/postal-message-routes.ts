import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import PostalMime from 'postal-mime';
import {
  postalAuthenticate,
  postalError,
  postalErrorHandler,
  postalParameterError,
  postalParams,
  postalSuccess,
} from '../infra/http/postal-envelope.js';
import { PostalMessageParams, postalRouteSchema, postalValidatorCompiler } from '../infra/http/postal-openapi.js';
import { loadMessageView, type MessageView } from './message-view.js';
import type { ReadApiDeps } from './read-deps.js';

const EXPANSIONS = [
  'status',
  'details',
  'inspection',
  'plain_body',
  'html_body',
  'attachments',
  'headers',
  'raw_message',
  'activity_entries',
] as const;

/** Postal's message statuses, from ours. */
export function postalStatus(view: MessageView): string {
  switch (view.status) {
    case 'held':
      return 'Held';
    case 'deferred':
      return 'SoftFail';
    case 'delivered':
      return 'Sent';
    case 'bounced':
      return view.bounce?.kind === 'async' ? 'Bounced' : 'HardFail';
    case 'failed':
      return 'HardFail';
    case 'cancelled':
      return 'HoldCancelled';
    default:
      return 'Pending';
  }
}

const seconds = (iso: string | undefined | null) => (iso ? Date.parse(iso) / 1000 : null);
/** Ruby's Base64.encode64: lines of 60 characters, each ending in a newline. */
const encode64 = (b: Buffer) => (b.toString('base64').match(/.{1,60}/g) ?? []).map((l) => `${l}\n`).join('');

/** Postal's /api/v1/messages/message and /api/v1/messages/deliveries, answered from the log. */
export function postalMessageRoutes(deps: ReadApiDeps) {
  return async function plugin(app: FastifyInstance) {
    app.addHook('onRequest', async (req) => {
      req.postalStartedAt = performance.now();
    });
    app.setErrorHandler(postalErrorHandler);
    for (const method of ['GET', 'POST', 'PATCH', 'PUT'] as const) {
      const options = { validatorCompiler: postalValidatorCompiler };
      app.route({
        method,
        url: '/api/v1/messages/message',
        ...options,
        schema: postalRouteSchema(
          method,
          'A message, with the details asked for in _expansions (Postal)',
          PostalMessageParams,
        ),
        handler: (req, reply) => message(deps, req, reply),
      });
      app.route({
        method,
        url: '/api/v1/messages/deliveries',
        ...options,
        schema: postalRouteSchema(method, "A message's delivery attempts (Postal)", PostalMessageParams),
        handler: (req, reply) => deliveries(deps, req, reply),
      });
    }
  };
}

async function findMessage(
  deps: ReadApiDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<{ view: MessageView; params: Record<string, unknown> } | undefined> {
  const server = await postalAuthenticate(req, reply, deps.auth);
  if (!server) return undefined;
  const parsed = postalParams(req);
  if (!parsed.ok) {
    postalParameterError(req, reply, parsed.message);
    return undefined;
  }
  const id = parsed.params.id;
  if (id === undefined || id === null || id === '') {
    postalParameterError(req, reply, '`id` parameter is required but is missing');
    return undefined;
  }
  const view = /^\d+$/.test(String(id)) ? await loadMessageView(deps.eventStore, String(id)) : undefined;
  // another server's message is indistinguishable from a missing one
  if (!view || view.serverId !== server.id) {
    postalError(req, reply, 'MessageNotFound', { message: 'No message found matching provided ID', id });
    return undefined;
  }
  return { view, params: parsed.params };
}

async function message(deps: ReadApiDeps, req: FastifyRequest, reply: FastifyReply) {
  const found = await findMessage(deps, req, reply);
  if (!found) return reply;
  const { view, params } = found;
  const requested =
    params._expansions === true
      ? [...EXPANSIONS]
      : Array.isArray(params._expansions)
        ? EXPANSIONS.filter((e) => (params._expansions as unknown[]).includes(e))
        : [];
  const data: Record<string, unknown> = { id: Number(view.id), token: view.token };
  const needsContent = requested.some((e) =>
    ['plain_body', 'html_body', 'attachments', 'headers', 'raw_message'].includes(e),
  );
  const raw = needsContent ? await deps.contents.get(view.contentHash) : undefined;
  const email = raw ? await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer' }) : undefined;
  for (const expansion of requested) {
    switch (expansion) {
      case 'status':
        data.status = {
          status: postalStatus(view),
          last_delivery_attempt: seconds(view.timestamps.lastAttemptAt),
          held: view.status === 'held',
          hold_expiry: null,
        };
        break;
      case 'details':
        data.details = {
          rcpt_to: view.to,
          mail_from: view.from,
          subject: view.subject || null,
          message_id: view.rfcMessageId,
          timestamp: seconds(view.timestamps.acceptedAt),
          direction: 'outgoing',
          size: String(view.size),
          bounce: false,
          bounce_for_id: 0,
          tag: view.tag,
          received_with_ssl: null,
        };
        break;
      case 'inspection':
        data.inspection = { inspected: false, spam: false, spam_score: 0.0, threat: false, threat_details: null };
        break;
      case 'plain_body':
        data.plain_body = email?.text ?? null;
        break;
      case 'html_body':
        data.html_body = email?.html ?? null;
        break;
      case 'attachments':
        data.attachments = (email?.attachments ?? []).map((a) => {
          const body = Buffer.from(a.content as ArrayBuffer);
          return {
            filename: a.filename ?? '',
            content_type: a.mimeType,
            data: encode64(body),
            size: body.length,
            hash: createHash('sha1').update(body).digest('hex'),
          };
        });
        break;
      case 'headers': {
        const headers: Record<string, string[]> = {};
        for (const h of email?.headers ?? []) (headers[h.key] ??= []).push(h.value);
        data.headers = headers;
        break;
      }
      case 'raw_message':
        data.raw_message = raw ? encode64(raw) : null;
        break;
      case 'activity_entries':
        data.activity_entries = {
          loads: view.opens.map((o) => ({ ip_address: o.ip, user_agent: o.userAgent, timestamp: o.at })),
          clicks: view.clicks.map((c) => ({ url: c.url, ip_address: c.ip, user_agent: c.userAgent, timestamp: c.at })),
        };
        break;
    }
  }
  return postalSuccess(req, reply, data);
}

async function deliveries(deps: ReadApiDeps, req: FastifyRequest, reply: FastifyReply) {
  const found = await findMessage(deps, req, reply);
  if (!found) return reply;
  return postalSuccess(
    req,
    reply,
    found.view.deliveries.map((d, i) => ({
      id: i + 1,
      status: d.outcome === 'delivered' ? 'Sent' : d.outcome === 'deferred' ? 'SoftFail' : 'HardFail',
      details: d.detail.slice(0, 250),
      output:
        d.smtpCode !== null
          ? `${d.smtpCode} ${d.enhancedCode ? `${d.enhancedCode} ` : ''}${d.smtpText ?? ''}`.trim().slice(0, 250)
          : null,
      sent_with_ssl: d.tls !== null,
      log_id: null,
      time: Math.round(d.durationMs / 10) / 100,
      timestamp: Date.parse(d.at) / 1000,
    })),
  );
}
