import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Server } from '../../../domain/index.js';
import { parseSigV4Authorization, verifySigV4 } from '../../../infra/http/aws-sigv4.js';
import { sendEmails, type SendEmailsDeps, type SendFailure } from '../../send/send-emails.js';
import { sendRaw } from '../../send/send-raw.js';
import { sesRequest } from './ses-email.js';
import { sendSesError, type SesFailure } from './ses-errors.js';
import { SesSendEmail } from './ses-schemas.js';

/**
 * Amazon SES v2's SendEmail (`POST /v2/email/outbound-emails`), authenticated with AWS Signature V4 against a
 * Postlog credential of kind `ses`, so `@aws-sdk/client-sesv2` works with only its endpoint changed. Hidden from
 * Postlog's OpenAPI document: the route follows SES's published API, not Postlog's conventions.
 */
export function sesRoutes(deps: SendEmailsDeps) {
  return async function plugin(app: FastifyInstance) {
    // the signature covers the exact bytes: the body is kept as received and parsed here
    app.addContentTypeParser(
      ['application/json', 'application/x-amz-json-1.0'],
      { parseAs: 'buffer' },
      (_r, body, done) => done(null, body),
    );
    app.setErrorHandler((error: FastifyError, _req, reply) => {
      if (error.statusCode === 429)
        return sendSesError(reply, { type: 'TooManyRequestsException', message: error.message });
      if (error.statusCode === 413 || error.statusCode === 415 || error.statusCode === 400)
        return sendSesError(reply, { type: 'SerializationException', message: error.message });
      throw error;
    });
    app.post('/v2/email/outbound-emails', { schema: { hide: true }, config: { rateLimit: {} } }, async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const server = await authenticated(deps, req, reply, body);
      if (!server) return reply;
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        return sendSesError(reply, { type: 'SerializationException', message: 'the body is not JSON' });
      }
      const parsed = SesSendEmail.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        return sendSesError(reply, {
          type: 'BadRequestException',
          message: `${issue.path.join('.')}: ${issue.message}`,
        });
      }
      const request = sesRequest(parsed.data, server, deps.recipients);
      if ('type' in request) return sendSesError(reply, request);
      const sent =
        request.kind === 'raw'
          ? await sendRaw(deps, { server, ...request, correlationId: req.id })
          : await sendEmails(deps, { server, ...request, ip: req.ip, correlationId: req.id });
      if (!sent.ok) {
        if (sent.error.code === 'NOT_ACCEPTED') req.log.error({ error: sent.error }, 'accepting messages failed');
        return sendSesError(reply, sesFailure(sent.error));
      }
      const messageId = 'rfcMessageId' in sent.value ? sent.value.rfcMessageId : sent.value.rfcMessageIds[0];
      return reply.code(200).header('x-amzn-requestid', req.id).send({ MessageId: messageId });
    });
  };
}

/** The server of the request's access key, once its SigV4 signature is checked; otherwise the error is sent. */
async function authenticated(deps: SendEmailsDeps, req: FastifyRequest, reply: FastifyReply, body: Buffer) {
  const fail = (f: SesFailure) => void sendSesError(reply, f);
  const auth = parseSigV4Authorization(req.headers.authorization);
  if (!auth.ok) return fail({ type: 'IncompleteSignatureException', message: auth.error.message });
  const key = await deps.auth.sesAccessKey(auth.value.accessKeyId);
  if (key.outcome !== 'ok') {
    if (key.outcome === 'unreadable')
      req.log.warn({ accessKeyId: auth.value.accessKeyId, reason: key.reason }, 'SES access key cannot be read');
    return fail({
      type: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    });
  }
  const [path, query = ''] = req.raw.url!.split('?', 2) as [string, string?];
  const request = { method: req.method, path, query, headers: req.headers, body };
  const verified = verifySigV4(request, auth.value, key.secret, 'ses', deps.clock.now());
  if (!verified.ok)
    return fail({
      type:
        verified.error.code === 'IncompleteSignature' ? 'IncompleteSignatureException' : 'InvalidSignatureException',
      message: verified.error.message,
    });
  const server: Server = key.server;
  if (server.suspended)
    return fail({
      type: 'AccountSuspendedException',
      message: `the server is suspended${server.suspendedReason ? `: ${server.suspendedReason}` : ''}`,
    });
  return server;
}

/** Postlog's reason for refusing, as the SES error its clients know. */
function sesFailure(f: SendFailure): SesFailure {
  switch (f.code) {
    case 'UNAUTHENTICATED_FROM_ADDRESS':
      return { type: 'MessageRejected', message: `Email address is not verified: ${f.message}` };
    case 'UNKNOWN_TEMPLATE':
      return { type: 'NotFoundException', message: f.message };
    case 'NOT_ACCEPTED':
    case 'SPAM_CHECK_UNAVAILABLE':
    case 'VIRUS_SCAN_UNAVAILABLE':
      return { type: 'ServiceUnavailable', message: f.message };
    case 'VIRUS_FOUND':
    case 'MESSAGE_TOO_LARGE':
    case 'INVALID_MESSAGE_BYTES':
    case 'NO_RECIPIENTS':
      return { type: 'MessageRejected', message: f.message };
    default:
      return { type: 'BadRequestException', message: f.message };
  }
}
