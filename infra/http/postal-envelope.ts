import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Server } from '../../domain/index.js';
import type { Authenticator } from './auth.js';

/**
 * Postal's legacy API conventions, so its client libraries work unchanged: HTTP 200 always, a
 * `{status, time, flags, data}` envelope, and parameters either as a JSON body or as JSON in a
 * form/query field named `params`.
 */
export type PostalStatus = 'success' | 'error' | 'parameter-error';

declare module 'fastify' {
  interface FastifyRequest {
    postalStartedAt?: number;
  }
}

export function postalSend(
  req: FastifyRequest,
  reply: FastifyReply,
  status: PostalStatus,
  data: unknown,
  httpStatus = 200,
) {
  const time = Math.round(performance.now() - (req.postalStartedAt ?? performance.now())) / 1000;
  return reply.code(httpStatus).type('application/json; charset=utf-8').send({ status, time, flags: {}, data });
}

export const postalSuccess = (req: FastifyRequest, reply: FastifyReply, data: unknown) =>
  postalSend(req, reply, 'success', data);

/** `code` goes last, as Postal merges it into the data. */
export const postalError = (
  req: FastifyRequest,
  reply: FastifyReply,
  code: string,
  data: Record<string, unknown> = {},
) => postalSend(req, reply, 'error', { ...data, code });

export const postalParameterError = (req: FastifyRequest, reply: FastifyReply, message: string) =>
  postalSend(req, reply, 'parameter-error', { message });

export function postalParams(
  req: FastifyRequest,
): { ok: true; params: Record<string, unknown> } | { ok: false; message: string } {
  const contentType = req.headers['content-type'] ?? '';
  if (/^application\/json/.test(contentType)) {
    const body = req.body;
    if (body === undefined || body === null) return { ok: true, params: {} };
    if (typeof body !== 'object' || Array.isArray(body))
      return { ok: false, message: 'the JSON body must be an object' };
    return { ok: true, params: body as Record<string, unknown> };
  }
  const fromBody = (req.body as Record<string, unknown> | undefined)?.params;
  const fromQuery = (req.query as Record<string, unknown> | undefined)?.params;
  const raw =
    typeof fromBody === 'string' && fromBody.trim()
      ? fromBody
      : typeof fromQuery === 'string' && fromQuery.trim()
        ? fromQuery
        : undefined;
  if (raw === undefined) return { ok: true, params: {} };
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { ok: false, message: '`params` must hold a JSON object' };
    return { ok: true, params: parsed as Record<string, unknown> };
  } catch {
    return { ok: false, message: '`params` is not valid JSON' };
  }
}

/** Postal's authentication answers, in its order: AccessDenied, InvalidServerAPIKey, ServerSuspended. */
export async function postalAuthenticate(
  req: FastifyRequest,
  reply: FastifyReply,
  auth: Authenticator,
): Promise<Server | undefined> {
  const header = req.headers['x-server-api-key'];
  const key = typeof header === 'string' ? header.trim() : '';
  if (!key) {
    postalError(req, reply, 'AccessDenied', { message: 'Must be authenticated as a server.' });
    return undefined;
  }
  const server = await auth.server(key);
  if (!server) {
    postalError(req, reply, 'InvalidServerAPIKey', {
      message: 'The API token provided in X-Server-API-Key was not valid.',
      token: key,
    });
    return undefined;
  }
  if (server.suspended) {
    postalError(req, reply, 'ServerSuspended', { message: 'The mail server has been suspended' });
    return undefined;
  }
  return server;
}

/**
 * The error handler of Postal-compatible routes: what the client sent wrong (bad JSON, a body too
 * large…) is a parameter error in Postal's envelope and an info line; a rate limit is Postal's
 * RateLimited; only our own faults are InternalServerError and an error line.
 */
export function postalErrorHandler(
  error: Error & { statusCode?: number; code?: string },
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (error.statusCode === 429) return postalError(req, reply, 'RateLimited', { message: error.message });
  if (error.statusCode !== undefined && error.statusCode < 500) {
    req.log.info({ code: error.code, error: error.message }, 'Postal API request refused');
    return postalParameterError(req, reply, error.message);
  }
  req.log.error({ err: error }, 'Postal API request failed');
  return postalError(req, reply, 'InternalServerError', { message: 'internal error; the request id is in the logs' });
}
