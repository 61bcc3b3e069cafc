import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Server } from '../../../domain/index.js';
import { sendEmails, type SendEmailsDeps, type SendFailure } from '../../send/send-emails.js';
import { postmarkEmail } from './postmark-email.js';
import { postmarkErrorBody, sendPostmarkError, type PostmarkFailure } from './postmark-errors.js';
import { MAX_BATCH, PostmarkEmail, PostmarkTemplatedEmail } from './postmark-schemas.js';

/** Messages of one batch sent at the same time (each is its own append, as Postmark answers each on its own). */
const BATCH_CONCURRENCY = 8;

/** What a route answers: a body with 200 (a batch's body lists each message's outcome), or one failure. */
type Answer = { ok: true; body: unknown } | { ok: false; failure: PostmarkFailure };

/**
 * Postmark's email API (postmarkapp.com/developer/api/email-api): /email, /email/batch, /email/withTemplate and
 * /email/batchWithTemplates with `X-Postmark-Server-Token` (a server API key). Answers and errors have Postmark's
 * shapes, so its clients work with only their host changed. Hidden from Postlog's OpenAPI document: these routes
 * follow Postmark's published API, not Postlog's conventions.
 */
export function postmarkRoutes(deps: SendEmailsDeps) {
  return async function plugin(app: FastifyInstance) {
    // Postmark's clients read {ErrorCode, Message}: the errors fastify raises before a handler runs too
    app.setErrorHandler((error: FastifyError, _req, reply) => {
      if (error.statusCode === 429) return sendPostmarkError(reply, { error: 'RateLimited', message: error.message });
      if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendPostmarkError(reply, { error: 'JsonRequired' });
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        return sendPostmarkError(reply, { error: 'InvalidEmailRequest', message: 'The request body is too large.' });
      if (error.statusCode === 400) return sendPostmarkError(reply, { error: 'InvalidJson', message: error.message });
      throw error;
    });
    const route = (url: string, handle: (server: Server, body: unknown, req: FastifyRequest) => Promise<Answer>) =>
      app.post(url, { schema: { hide: true }, config: { rateLimit: {} } }, async (req, reply) => {
        const server = await authenticated(deps, req, reply);
        if (!server) return reply;
        const answer = await handle(server, req.body, req);
        return answer.ok ? reply.code(200).send(answer.body) : sendPostmarkError(reply, answer.failure);
      });

    route('/email', (server, body, req) => one(deps, server, body, false, req));
    route('/email/withTemplate', (server, body, req) => one(deps, server, body, true, req));
    route('/email/batch', (server, body, req) => batch(deps, server, body, false, req));
    route('/email/batchWithTemplates', (server, body, req) => {
      const messages = (body as { Messages?: unknown } | null)?.Messages;
      if (messages !== undefined) return batch(deps, server, messages, true, req);
      return Promise.resolve({
        ok: false as const,
        failure: { error: 'InvalidEmailRequest' as const, message: 'Messages is required.' },
      });
    });
  };
}

async function authenticated(deps: SendEmailsDeps, req: FastifyRequest, reply: FastifyReply) {
  const token = req.headers['x-postmark-server-token'];
  const server = typeof token === 'string' && token.trim() ? await deps.auth.server(token.trim()) : undefined;
  if (!server) {
    sendPostmarkError(reply, { error: 'BadToken' });
    return undefined;
  }
  if (server.suspended) {
    sendPostmarkError(reply, {
      error: 'NotAllowedToSend',
      message: `The server is suspended${server.suspendedReason ? `: ${server.suspendedReason}` : ''}.`,
    });
    return undefined;
  }
  return server;
}

/** A batch: each message validated and sent on its own; the answer lists each one's outcome, in order. */
async function batch(
  deps: SendEmailsDeps,
  server: Server,
  body: unknown,
  templated: boolean,
  req: FastifyRequest,
): Promise<Answer> {
  if (!Array.isArray(body))
    return { ok: false, failure: { error: 'InvalidEmailRequest', message: 'The request body must be an array.' } };
  if (body.length > MAX_BATCH)
    return {
      ok: false,
      failure: { error: 'TooManyBatchMessages', message: `A batch holds at most ${MAX_BATCH} messages.` },
    };
  const answers: unknown[] = new Array(body.length);
  for (let from = 0; from < body.length; from += BATCH_CONCURRENCY) {
    await Promise.all(
      body.slice(from, from + BATCH_CONCURRENCY).map(async (message, j) => {
        const answer = await one(deps, server, message, templated, req);
        answers[from + j] = answer.ok ? answer.body : postmarkErrorBody(answer.failure);
      }),
    );
  }
  return { ok: true, body: answers };
}

async function one(
  deps: SendEmailsDeps,
  server: Server,
  body: unknown,
  templated: boolean,
  req: FastifyRequest,
): Promise<Answer> {
  const parsed = templated ? PostmarkTemplatedEmail.safeParse(body) : PostmarkEmail.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    return {
      ok: false,
      failure: { error: 'InvalidEmailRequest', message: `${field ? `'${field}': ` : ''}${issue.message}.` },
    };
  }
  const request = postmarkEmail(
    templated
      ? { templated: true, email: parsed.data as PostmarkTemplatedEmail }
      : { templated: false, email: parsed.data as PostmarkEmail },
    server,
    deps.recipients,
  );
  if ('error' in request) return { ok: false, failure: request };
  const sent = await sendEmails(deps, { ...request, server, ip: req.ip, correlationId: req.id });
  if (!sent.ok) {
    if (sent.error.code === 'NOT_ACCEPTED') req.log.error({ error: sent.error }, 'accepting messages failed');
    return { ok: false, failure: postmarkFailure(sent.error) };
  }
  return {
    ok: true,
    body: {
      To: parsed.data.To ?? '',
      SubmittedAt: deps.clock.now().toISOString(),
      MessageID: sent.value.rfcMessageIds[0],
      ErrorCode: 0,
      Message: 'OK',
    },
  };
}

/** Postlog's reason for refusing, as the Postmark error its clients know. */
function postmarkFailure(f: SendFailure): PostmarkFailure {
  switch (f.code) {
    case 'UNAUTHENTICATED_FROM_ADDRESS':
      return { error: 'SenderSignatureNotFound', message: `${f.message}.` };
    case 'UNKNOWN_TEMPLATE':
      return { error: 'TemplateNotFound', message: `${f.message}.` };
    case 'NOT_ACCEPTED':
    case 'SPAM_CHECK_UNAVAILABLE':
    case 'VIRUS_SCAN_UNAVAILABLE':
      return { error: 'Unavailable', message: `${f.message}.` };
    default:
      return { error: 'InvalidEmailRequest', message: `${f.message}.` };
  }
}
