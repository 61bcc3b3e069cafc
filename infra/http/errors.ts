import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isDatabaseUnavailable } from './database-unavailable.js';
import { HTTP_ERRORS, type HttpErrorCode } from './error-catalogue.js';

/**
 * The error body of every non-Postal API route: a stable code, a message, and field paths. The one
 * schema every route declares for its error statuses (see responses.ts), so the OpenAPI document
 * describes what sendError sends.
 */
export const ApiError = z.object({
  code: z.string().describe('stable, for programs: VALIDATION_FAILED, NOT_FOUND, UNAUTHENTICATED, RATE_LIMITED, …'),
  message: z.string().describe('for people'),
  fields: z
    .array(z.object({ path: z.string(), message: z.string() }))
    .optional()
    .describe('the fields at fault, when the request was invalid'),
});
export type ApiErrorBody = z.infer<typeof ApiError>;

/** An error answer: its status is the code's, from the catalogue (error-catalogue.ts). */
export function sendError(reply: FastifyReply, code: HttpErrorCode, message: string, fields?: ApiErrorBody['fields']) {
  return reply
    .code(HTTP_ERRORS[code].status)
    .send({ code, message, ...(fields ? { fields } : {}) } satisfies ApiErrorBody);
}

/** "to.0.address" style paths, as users see them in their JSON. */
export const pathOf = (path: readonly PropertyKey[]) =>
  path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');

export function makeErrorHandler(production: boolean) {
  return (error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const fields = error.validation.map((v) => ({
        path: [error.validationContext, ...(v.instancePath ? v.instancePath.split('/').filter(Boolean) : [])]
          .filter(Boolean)
          .join('.'),
        message: v.message ?? 'is invalid',
      }));
      return sendError(
        reply,
        'VALIDATION_FAILED',
        `the request is invalid: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}`,
        fields,
      );
    }
    if (error.statusCode === 429) return sendError(reply, 'RATE_LIMITED', error.message);
    if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      return sendError(reply, 'INVALID_JSON', error.message);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 'PAYLOAD_TOO_LARGE', error.message);
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return sendError(reply, 'UNSUPPORTED_MEDIA_TYPE', error.message);
    if (error.statusCode && error.statusCode < 500)
      // the framework's own client errors (their codes are fastify's): the status as fastify gives it
      return reply.code(error.statusCode).send({ code: 'BAD_REQUEST', message: error.message } satisfies ApiErrorBody);
    if (isDatabaseUnavailable(error)) {
      req.log.warn({ err: error, url: req.url }, 'the database could not take the request: answered 503');
      return sendError(
        reply.header('retry-after', '5'),
        'DATABASE_UNAVAILABLE',
        'the database is unreachable, restarting or out of space; nothing was stored, retry',
      );
    }
    req.log.error({ err: error, url: req.url }, 'unhandled error');
    return sendError(reply, 'INTERNAL', production ? 'internal error; the request id is in the logs' : error.message);
  };
}
