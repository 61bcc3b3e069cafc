import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/**
 * The CORS policy of the API and /graphql: off unless origins are listed (POSTLOG_CORS_ORIGINS).
 * Off means no CORS header on any answer, so a browser lets no other site read one. A listed
 * origin is echoed (never `*`), with the headers Postlog's authentication uses. No credentials:
 * the API authenticates by header, never by cookie, so no page needs the browser's own.
 */
export async function registerCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (origins.length === 0) return;
  const allowed = new Set(origins.map((o) => o.toLowerCase()));
  await app.register(cors, {
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin.toLowerCase())),
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Server-API-Key', 'Idempotency-Key', 'X-Request-Id'],
    exposedHeaders: [
      'X-Request-Id',
      'Idempotent-Replayed',
      'Retry-After',
      'X-RateLimit-Limit',
      'X-RateLimit-Remaining',
      'X-RateLimit-Reset',
    ],
    credentials: false,
    maxAge: 600,
  });
}
