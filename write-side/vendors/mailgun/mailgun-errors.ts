import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../../../infra/http/database-unavailable.js';
import { HTTP_ERRORS, type HttpErrorCode } from '../../../infra/http/error-catalogue.js';

/** Why a Mailgun-API request was refused: a code of the HTTP catalogue (logs, metrics) and Mailgun's message. */
export interface MailgunFailure {
  code: HttpErrorCode;
  message: string;
}

export const mailgunFailure = (code: HttpErrorCode, message: string): MailgunFailure => ({ code, message });

/** A refused parameter, in the words Mailgun uses for its own 400s ("from parameter is missing"). */
export const badParameter = (message: string): MailgunFailure => mailgunFailure('VALIDATION_FAILED', message);

/**
 * Mailgun answers request errors with 400 (it has no 422): a catalogue code whose status is 422 (an unknown
 * template, a failed render, an unverified From domain) is a 400 here; every other status is the catalogue's.
 */
export function mailgunStatus(code: HttpErrorCode): number {
  const status: number = HTTP_ERRORS[code].status;
  return status === 422 ? 400 : status;
}

/**
 * Mailgun's error shape: `{"message": "…"}`, except a missing or wrong key, which Mailgun answers with a bare
 * `Forbidden` (text/plain) and 401: its official clients read that body as the error's details.
 */
export function sendMailgunError(reply: FastifyReply, failure: MailgunFailure) {
  if (failure.code === 'UNAUTHENTICATED' || failure.code === 'INVALID_API_KEY')
    return reply.code(401).type('text/plain; charset=utf-8').send('Forbidden');
  return reply.code(mailgunStatus(failure.code)).send({ message: failure.message });
}

/** Fastify's own errors on these routes (a body over a limit, a type not taken) in Mailgun's shape. */
export function mailgunErrorHandler(error: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (error.statusCode === 429) return sendMailgunError(reply, mailgunFailure('RATE_LIMITED', error.message));
  if (error.statusCode === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.code?.endsWith('_LIMIT'))
    return sendMailgunError(reply, mailgunFailure('PAYLOAD_TOO_LARGE', `the request is too large: ${error.message}`));
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE')
    return sendMailgunError(
      reply,
      mailgunFailure(
        'UNSUPPORTED_MEDIA_TYPE',
        'the body must be multipart/form-data or application/x-www-form-urlencoded',
      ),
    );
  if (error.statusCode && error.statusCode < 500)
    return sendMailgunError(reply, mailgunFailure('BAD_REQUEST', error.message));
  // PostgreSQL down, restarting or out of disk: nothing was stored, the client should retry (the chaos run)
  if (isDatabaseUnavailable(error)) {
    req.log.warn({ err: error, url: req.url }, 'the database cannot take the request now');
    reply.header('retry-after', '5');
    return sendMailgunError(reply, mailgunFailure('DATABASE_UNAVAILABLE', 'the database cannot take the request now'));
  }
  req.log.error({ err: error, url: req.url }, 'unhandled error');
  return sendMailgunError(reply, mailgunFailure('INTERNAL', 'internal error; the request id is in the logs'));
}
