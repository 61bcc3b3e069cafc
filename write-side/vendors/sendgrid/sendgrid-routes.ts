import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Server } from '../../../domain/index.js';
import { credentialsOf } from '../../../infra/http/auth.js';
import type { TemplateStore } from '../../../infra/templates/index.js';
import type { SendApiDeps } from '../../send/send-deps.js';
import { sendEmails } from '../../send/send-emails.js';
import { sandboxRefusal } from './sandbox-check.js';
import { failureAnswer, problem, schemaProblems, sendGridError, sendGridErrorHandler } from './sendgrid-errors.js';
import { planSendGridMail } from './sendgrid-mail.js';
import { SendGridMail } from './sendgrid-schemas.js';

export type SendGridDeps = SendApiDeps & { templates: TemplateStore };

/**
 * SendGrid's v3 mail/send (`POST /v3/mail/send`, `Authorization: Bearer <server API key>`), so that
 * SendGrid's clients send through Postlog by changing only their base URL. Every email goes through
 * sendEmails, the path of /v2; this file reads SendGrid's request and answers in SendGrid's shape.
 */
export function sendGridRoutes(deps: SendGridDeps) {
  return async function plugin(app: FastifyInstance) {
    // SendGrid's clients read SendGrid's error body, also for bad JSON, a body too large or the rate limit
    app.setErrorHandler(sendGridErrorHandler);
    app.post('/v3/mail/send', {
      // not in Postlog's OpenAPI document: it follows SendGrid's published API (body, statuses, error shape),
      // which docs/sendgrid.md maps field by field
      schema: { hide: true },
      config: { rateLimit: {} },
      handler: (req, reply) => mailSend(deps, req, reply),
    });
  };
}

async function mailSend(deps: SendGridDeps, req: FastifyRequest, reply: FastifyReply) {
  const server = await authenticated(deps, req, reply);
  if (!server) return reply;
  // a SendGrid subuser is a Postlog server, named by its own key: sending as another is not done here
  if (req.headers['on-behalf-of'] !== undefined)
    return sendGridError(reply, 400, [
      problem(null, "On-Behalf-Of is not taken: Postlog's API key names the server, so use that server's key."),
    ]);
  const body = SendGridMail.safeParse(req.body);
  if (!body.success) return sendGridError(reply, 400, schemaProblems(body.error));
  const plan = planSendGridMail(body.data, server, deps.recipients, deps.clock.now());
  if (Array.isArray(plan)) return sendGridError(reply, 400, plan);
  if (plan.sandbox) {
    const refusal = await sandboxRefusal(deps, server, plan);
    if (refusal) return sendGridError(reply, refusal.status, refusal.problems);
    // SendGrid's answer to a valid request in sandbox mode: 200, nothing queued
    return reply.code(200).send();
  }
  const result = await sendEmails(deps, {
    server,
    from: plan.from,
    fromHeader: plan.fromHeader,
    emails: plan.emails,
    tag: plan.tag,
    metadata: plan.metadata,
    scheduledAt: plan.scheduledAt,
    ip: req.ip,
    correlationId: req.id,
  });
  if (!result.ok) {
    if (result.error.code === 'NOT_ACCEPTED') req.log.error({ error: result.error }, 'accepting messages failed');
    const answer = failureAnswer(result.error);
    return sendGridError(reply, answer.status, answer.problems);
  }
  // SendGrid's id is opaque to its clients: Postlog's batch id finds every message of the request
  return reply.code(202).header('x-message-id', result.value.batchId).send();
}

/** The server of the bearer API key, or SendGrid's 401 / 403 answered. */
async function authenticated(
  deps: SendGridDeps,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Server | undefined> {
  const { apiKey, adminToken } = credentialsOf(req);
  if (!apiKey && !adminToken) {
    sendGridError(reply, 401, [problem(null, 'authorization required')]);
    return undefined;
  }
  const server = apiKey ? await deps.auth.server(apiKey) : undefined;
  if (!server) {
    sendGridError(reply, 401, [problem(null, 'The provided authorization grant is invalid, expired, or revoked')]);
    return undefined;
  }
  if (server.suspended) {
    sendGridError(reply, 403, [
      problem(
        null,
        `access forbidden: the server is suspended${server.suspendedReason ? ` (${server.suspendedReason})` : ''}`,
      ),
    ]);
    return undefined;
  }
  return server;
}
