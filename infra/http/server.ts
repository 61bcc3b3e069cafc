import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../logging/index.js';
import type { Metrics } from '../metrics/index.js';
import type { EventStore } from '../event-store/index.js';

export interface HttpServerDeps {
  logger: Logger;
  metrics: Metrics;
  eventStore: EventStore;
  /** False until start-up finished and again once shutdown begins. */
  isReady: () => boolean;
  version: string;
}

/**
 * The HTTP entry point. Operational routes live here; feature routes (send API, admin API,
 * tracking, GraphQL) register as fastify plugins from their own folders.
 */
export function createHttpServer(deps: HttpServerDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines come from our onResponse hook (with status and duration), not fastify's pair.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => (req.headers['x-request-id'] as string | undefined) ?? crypto.randomUUID(),
    bodyLimit: 30 * 1024 * 1024,
  });

  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.httpRequests.inc({ method: req.method, route: req.routeOptions.url ?? 'unknown', status: reply.statusCode });
    if (reply.statusCode >= 500) req.log.error({ url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request failed');
    else req.log.debug({ url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  /** Liveness: 200 when the event log can take an append. */
  app.get('/health', async (_req, reply) => {
    const writable = await deps.eventStore.healthy();
    return reply.code(writable ? 200 : 503).send({ status: writable ? 'ok' : 'unavailable', eventLog: writable ? 'writable' : 'not writable', version: deps.version });
  });

  /** Readiness: 200 while this process takes traffic (not during start-up or shutdown). */
  app.get('/ready', async (_req, reply) => {
    const ready = deps.isReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });

  app.get('/metrics', async (_req, reply) => {
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  return app;
}
