import { randomUUID } from 'node:crypto';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendEmails, type SendEmailsDeps } from '../../send/send-emails.js';
import { checkDomain, mailgunServer } from './mailgun-auth.js';
import { mailgunErrorHandler, sendMailgunError, type MailgunFailure } from './mailgun-errors.js';
import { isFailure, readMailgunForm, type FormLimits } from './mailgun-form.js';
import { planMailgunSend } from './mailgun-message.js';
import { sendMailgunMime } from './mailgun-mime.js';

/** Mailgun's answer to an accepted (or test-mode) send. */
const QUEUED = 'Queued. Thank you.';
/** Room for what a request carries besides the message: addresses and recipient-variables of a 1,000-recipient batch. */
const FORM_OVERHEAD_BYTES = 16 * 1024 * 1024;

type Params = { Params: { domain: string } };

/**
 * Mailgun's sending API: POST /v3/{domain}/messages and /v3/{domain}/messages.mime, with HTTP Basic
 * `api:<server API key>`, so that a Mailgun client sends through Postlog by changing only its URL and key.
 * Multipart bodies are read only here (the plugin is encapsulated); urlencoded ones by the app's formbody.
 */
export function mailgunRoutes(deps: SendEmailsDeps) {
  const limits: FormLimits = {
    fileBytes: deps.maxMessageBytes,
    totalBytes: deps.maxMessageBytes + FORM_OVERHEAD_BYTES,
    files: 100,
    fields: 5000,
  };
  return async function plugin(app: FastifyInstance) {
    await app.register(multipart, {
      limits: {
        fileSize: limits.fileBytes,
        fieldSize: limits.totalBytes,
        files: limits.files,
        fields: limits.fields,
        // busboy's own default (1,000 parts) would cut a 1,000-recipient batch short
        parts: limits.files + limits.fields,
      },
    });
    // Mailgun's clients read `{"message"}` bodies: every failure here answers in that shape
    app.setErrorHandler(mailgunErrorHandler);
    // hidden from the OpenAPI document: these routes follow Mailgun's published API (docs/mailgun.md), not
    // Postlog's schemas, and take multipart bodies the conformance fuzzer does not generate
    const options = { schema: { hide: true }, config: { rateLimit: {} } };
    app.post<Params>('/v3/:domain/messages', options, async (req, reply) => {
      const server = await authorized(deps, req, reply);
      if (!server) return reply;
      const form = await readMailgunForm(req, limits);
      if (isFailure(form)) return sendMailgunError(reply, form);
      const plan = planMailgunSend(form, { server, recipients: deps.recipients, now: deps.clock.now() });
      if (isFailure(plan)) return sendMailgunError(reply, plan);
      if (plan.testMode) {
        // Mailgun checks a test-mode request and answers as for a real one, but sends nothing
        const domain = await deps.tenancy.sendingDomain(server.id, plan.from.domain);
        if (!domain?.verified)
          return sendMailgunError(reply, {
            code: 'UNAUTHENTICATED_FROM_ADDRESS',
            message: `${plan.from.domain} is not a verified domain of this server`,
          });
        return reply.send({ id: `<${randomUUID()}@${deps.hostname}>`, message: QUEUED });
      }
      const result = await sendEmails(deps, {
        server,
        from: plan.from,
        fromHeader: plan.fromHeader,
        emails: plan.emails,
        tag: plan.tag,
        scheduledAt: plan.scheduledAt,
        ip: req.ip,
        correlationId: req.id,
      });
      if (!result.ok) return failed(req, reply, result.error);
      return reply.send({ id: `<${result.value.rfcMessageIds[0]}>`, message: QUEUED });
    });
    app.post<Params>('/v3/:domain/messages.mime', options, async (req, reply) => {
      const server = await authorized(deps, req, reply);
      if (!server) return reply;
      const form = await readMailgunForm(req, limits);
      if (isFailure(form)) return sendMailgunError(reply, form);
      const sent = await sendMailgunMime(deps, { server, form, correlationId: req.id });
      if (isFailure(sent)) return failed(req, reply, sent);
      return reply.send({ id: `<${sent.rfcMessageId}>`, message: QUEUED });
    });
  };
}

/** The key's server, when it may send from the path's domain; otherwise the answer is sent. */
async function authorized(deps: SendEmailsDeps, req: FastifyRequest<Params>, reply: FastifyReply) {
  const server = await mailgunServer(deps.auth, req);
  const failure = isFailure(server) ? server : await checkDomain(deps.tenancy, server, req.params.domain);
  if (!failure) return server as Exclude<typeof server, MailgunFailure>;
  // a multipart body is read by the handler: drop it unread, so that the client reads the answer
  req.raw.resume();
  sendMailgunError(reply, failure);
  return undefined;
}

function failed(req: FastifyRequest, reply: FastifyReply, failure: MailgunFailure) {
  if (failure.code === 'NOT_ACCEPTED') req.log.error({ error: failure }, 'accepting messages failed');
  return sendMailgunError(reply, failure);
}
