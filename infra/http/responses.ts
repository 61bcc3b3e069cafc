import { z } from 'zod';
import { ApiError } from './errors.js';

/** The error statuses Postlog's routes answer, each with the body `sendError` sends. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 410 | 413 | 415 | 422 | 429 | 503;

/**
 * A route's `schema.response`: its success answers and every error status it can give, each error
 * with the one ApiError body. The OpenAPI document is built from these, so a status missing here is
 * one a schema-driven client (or the conformance test, test/e2e/openapi-conformance) is not told of.
 */
export function responses<
  S extends Record<number, z.ZodType | { description: string; content: Record<string, { schema: z.ZodType }> }>,
>(success: S, errors: readonly ErrorStatus[]): S & Record<ErrorStatus, typeof ApiError> {
  const out: Record<number, unknown> = { ...success };
  for (const status of errors) out[status] = ApiError;
  return out as S & Record<ErrorStatus, typeof ApiError>;
}

/**
 * A 204 answer: no body. `type: null` is what @fastify/swagger documents as a response without
 * content; typed as void so handlers send none (fastify never serializes a 204's absent body).
 */
export const NO_CONTENT = z.null().describe('No Content') as unknown as z.ZodType<void>;

/** Statuses by cause, to compose a route's list from. */
export const FAILS = {
  /** an invalid path, query or body (VALIDATION_FAILED, INVALID_JSON) */
  invalid: [400],
  /** a JSON body over the size limit, or of a type the route does not take */
  body: [400, 413, 415],
  /** admin token routes: missing or wrong token or session; a session's change without its CSRF token, or beyond its role */
  admin: [401, 403],
  /** API key routes: missing or wrong key, or the key's server is suspended */
  apiKey: [401, 403],
  /** routes under the per-key rate limit */
  rateLimited: [429],
} as const satisfies Record<string, readonly ErrorStatus[]>;
