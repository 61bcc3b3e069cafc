import type { FastifyInstance } from 'fastify';
import { sendError } from './errors.js';

/** The path of the first string holding a NUL character, if any ("body.name", "querystring.q"). */
export function nulPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPath(value[i], `${path}[${i}]`);
      if (found) return found;
    }
  } else if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const [key, inner] of Object.entries(value)) {
      const found = (key.includes('\u0000') && `${path}.${key}`) || nulPath(inner, `${path}.${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Refuses a NUL character anywhere in a request's path parameters, query or JSON body with 400:
 * PostgreSQL text cannot hold one, so such a value failed later as a database error (500). Only on
 * the routes `applies` names (the /v2 API): Postal's routes answer in Postal's envelope, GraphQL in
 * its own error shape, tracking links with 404.
 */
export function refuseNul(app: FastifyInstance, applies: (url: string) => boolean): void {
  app.addHook('preValidation', async (req, reply) => {
    if (!applies(req.routeOptions.url ?? '')) return;
    const path = nulPath(req.params, 'params') ?? nulPath(req.query, 'querystring') ?? nulPath(req.body, 'body');
    if (path)
      return sendError(reply, 'VALIDATION_FAILED', `the request is invalid: ${path} contains a NUL character`, [
        { path, message: 'contains a NUL character' },
      ]);
  });
}
