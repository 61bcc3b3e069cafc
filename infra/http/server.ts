import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { EventStore } from '../event-store/index.js';
import type { Logger } from '../logging/index.js';
import type { Metrics } from '../metrics/index.js';
import { sha256 } from '../tenancy/index.js';
import { isLoopbackHost } from '../config/schema.js';
import { rateLimitIdentity } from './auth.js';
import { registerCors } from './cors.js';
import { makeErrorHandler, sendError } from './errors.js';
import type { DashboardAssets } from './dashboard-assets.js';
import { frontPage } from './front-page.js';
import { trackRouteMethods } from './method-not-allowed.js';
import { openApiTransform } from './openapi-transform.js';
import { refuseNul } from './refuse-nul.js';
import { waitForRunningHandlersOnClose } from './running-handlers.js';
import { registerSecurityHeaders } from './security-headers.js';

export interface HttpServerDeps {
  logger: Logger;
  metrics: Metrics;
  eventStore: EventStore;
  /** False until start-up finished and again once shutdown begins. */
  isReady: () => boolean;
  version: string;
  production: boolean;
  /** Requests per second per API key (or per client IP without one) on rate-limited routes. */
  rateLimitPerSecond: number;
  metricsToken?: string | undefined;
  /** The address the HTTP listener binds: a loopback one keeps /metrics on this machine without a token. */
  listenHost: string;
  /** Where browsers reach Postlog (POSTLOG_PUBLIC_URL): https:// turns HSTS on. */
  publicUrl?: string | undefined;
  /** Origins allowed to call the API from a browser (CORS); none: CORS off. */
  corsOrigins: readonly string[];
  /** The metrics /metrics shows: this process's registry unless given (all processes' under a supervisor). */
  metricsText?: () => Promise<string>;
  /** Feature routes (send API, admin API, …), each a fastify plugin. */
  plugins: FastifyPluginAsync[];
  bodyLimitBytes: number;
  /** The built web dashboard, served at / and its page paths (without it, / is a page of links). */
  dashboard?: DashboardAssets | undefined;
}

/** How long close() waits for handlers whose client is gone (a stuck one must not block shutdown). */
const HANDLER_DRAIN_MS = 5000;

/**
 * The HTTP entry point. Operational routes live here; feature routes (send API, admin API,
 * tracking, GraphQL) come in as fastify plugins from their own folders.
 */
export async function createHttpServer(deps: HttpServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines come from our onResponse hook (with status and duration), not fastify's pair.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,100}$/.test(given) ? given : crypto.randomUUID();
    },
    bodyLimit: deps.bodyLimitBytes,
    // tracking tokens carry the link they stand for
    routerOptions: { maxParamLength: 4096 },
    trustProxy: false,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(makeErrorHandler(deps.production));
  app.setNotFoundHandler((req, reply) =>
    deps.dashboard?.isPage(req)
      ? deps.dashboard.sendPage(reply)
      : sendError(reply, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`),
  );
  const routeMethods = trackRouteMethods(app);

  await registerSecurityHeaders(app, { servedOverHttps: deps.publicUrl?.startsWith('https://') ?? false });
  await registerCors(app, deps.corsOrigins);
  // dashboard sessions; the API's own credentials are headers
  await app.register(cookie);
  // a known path asked with another method: 405, decided before its body is read (an invalid body
  // must not turn it into a 400); after the security headers and CORS, which it answers with
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const allowed = req.is404
      ? routeMethods.allowed(path)
      : routeMethods.preferredElsewhere(path, req.routeOptions.url ?? '', req.method);
    if (allowed?.length)
      return sendError(
        reply.header('allow', allowed.join(', ')),
        'METHOD_NOT_ALLOWED',
        `${req.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`,
      );
  });
  await app.register(formbody);
  await app.register(rateLimit, {
    global: false,
    max: deps.rateLimitPerSecond,
    timeWindow: 1000,
    keyGenerator: (req) => {
      const secret = rateLimitIdentity(req);
      return secret ? `key:${sha256(secret)}` : `ip:${req.ip}`;
    },
    errorResponseBuilder: (_req, context) => ({
      statusCode: 429,
      code: 'RATE_LIMITED',
      message: `rate limit of ${context.max} requests per second exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`,
    }),
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Postlog API',
        version: deps.version,
        description: 'Send mail, manage tenants, and read message history.',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Server-API-Key' },
          adminToken: { type: 'http', scheme: 'bearer' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'postlog_session',
            description: 'a dashboard session (POST /v2/session); a change also needs its X-CSRF-Token',
          },
        },
      },
    },
    transform: openApiTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  waitForRunningHandlersOnClose(app, deps.logger, HANDLER_DRAIN_MS);
  refuseNul(app, (url) => url.startsWith('/v2/'));

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.httpRequests.inc({
      method: req.method,
      route: req.routeOptions.url ?? 'unknown',
      status: reply.statusCode,
    });
    // /ready answers 503 while starting or stopping: that is its answer, not a failure
    if (reply.statusCode >= 500 && req.routeOptions.url !== '/ready')
      req.log.error({ url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request failed');
    else req.log.debug({ url: req.url, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });

  // a browser opening Postlog's address finds the dashboard, or where things are: not a 404 in JSON
  if (deps.dashboard) await app.register(deps.dashboard.plugin);
  else
    app.get('/', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send(frontPage(deps.version, app.hasRoute({ method: 'POST', url: '/graphql' }))),
    );

  /** Liveness: 200 when the event log can take an append. */
  app.get('/health', { schema: { hide: true } }, async (_req, reply) => {
    const writable = await deps.eventStore.healthy();
    return reply.code(writable ? 200 : 503).send({
      status: writable ? 'ok' : 'unavailable',
      eventLog: writable ? 'writable' : 'not writable',
      version: deps.version,
    });
  });

  /** Readiness: 200 while this process takes traffic (not during start-up or shutdown). */
  app.get('/ready', { schema: { hide: true } }, async (_req, reply) => {
    const ready = deps.isReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });

  const metricsGuard = metricsAccess(deps);
  deps.logger[metricsGuard.kind === 'token' || metricsGuard.kind === 'loopback' ? 'info' : 'warn'](
    { metrics: metricsGuard.kind },
    metricsGuard.says,
  );
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (metricsGuard.kind === 'token' && req.headers.authorization !== `Bearer ${deps.metricsToken}`)
      return sendError(reply, 'UNAUTHENTICATED', 'metrics need the metrics token');
    // the configuration refuses this combination; a server built without it must not leak either
    if (metricsGuard.kind === 'refused') return sendError(reply, 'METRICS_TOKEN_REQUIRED', metricsGuard.says);
    // a reverse proxy on this machine reaches a loopback listener too, on behalf of anyone
    const proxied = PROXY_HEADERS.find((h) => req.headers[h] !== undefined);
    if (metricsGuard.kind === 'loopback' && proxied)
      return sendError(
        reply,
        'METRICS_TOKEN_REQUIRED',
        `/metrics was asked through a proxy (${proxied}): set POSTLOG_METRICS_TOKEN to serve it beyond this machine`,
      );
    return reply
      .type(deps.metrics.registry.contentType)
      .send(await (deps.metricsText ?? (() => deps.metrics.registry.metrics()))());
  });

  for (const plugin of deps.plugins) await app.register(plugin);
  return app;
}

/** Headers a reverse proxy adds: a request that has one did not come from this machine's own tools. */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'] as const;

/**
 * Who may read /metrics (it names every tenant's recipient domains), and the start-up line that
 * says so: holders of the metrics token; or, without one, whoever reaches the listener — only this
 * machine when it is a loopback address (the supervisor's background process always is). In
 * production an open non-loopback listener is refused (the configuration already is).
 */
export function metricsAccess(deps: Pick<HttpServerDeps, 'metricsToken' | 'listenHost' | 'production'>): {
  kind: 'token' | 'loopback' | 'open' | 'refused';
  says: string;
} {
  if (deps.metricsToken)
    return { kind: 'token', says: '/metrics needs the metrics token (Authorization: Bearer, POSTLOG_METRICS_TOKEN)' };
  if (isLoopbackHost(deps.listenHost))
    return {
      kind: 'loopback',
      says: `/metrics has no token: only this machine reaches it (HTTP listens on loopback, ${deps.listenHost})`,
    };
  if (deps.production)
    return {
      kind: 'refused',
      says: `/metrics is refused: production with HTTP on ${deps.listenHost} needs POSTLOG_METRICS_TOKEN`,
    };
  return {
    kind: 'open',
    says: `/metrics is open to anyone who reaches ${deps.listenHost}: it shows every tenant's recipient domains; set POSTLOG_METRICS_TOKEN (production requires it)`,
  };
}
