import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError } from 'graphql';
import { createYoga, maskError, type Plugin } from 'graphql-yoga';
import { authenticate, type Authenticator } from '../../infra/http/auth.js';
import { sendError } from '../../infra/http/errors.js';
import { serverScope } from '../../infra/http/server-scope.js';
import type { Logger } from '../../infra/logging/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import type { AnalyticsReports } from '../analytics/reports-port.js';
import type { DmarcReader } from './dmarc-schema.js';
import { analyticsSchema, REPORT_FIELDS, userError, type AnalyticsContext } from './analytics-schema.js';
import { GRAPHIQL_ASSETS_PATH, GRAPHIQL_PACKAGE, graphiqlPage, loadGraphiqlAssets } from './graphiql-assets.js';
import { DEFAULT_LIMITS, queryLimitsRule, type QueryLimits } from './limits.js';

export interface GraphqlDeps {
  reports: AnalyticsReports;
  /** The DMARC reports' queries read here (PostgreSQL). */
  dmarc?: DmarcReader;
  auth: Authenticator;
  tenancy: TenancyStore;
  logger: Logger;
  /** Production: no GraphiQL, unexpected errors masked. */
  production: boolean;
  limits?: QueryLimits;
}

type ServerContext = { req: FastifyRequest; reply: FastifyReply };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A browser opening /graphql for GraphiQL: the page itself needs no credentials (its requests do). */
const isGraphiqlPage = (req: FastifyRequest) =>
  req.method === 'GET' && !(req.query as Record<string, unknown>)?.query && /text\/html/.test(req.headers.accept ?? '');

/**
 * GraphiQL (development only) is served from this server (graphiql-assets.ts), under the server's
 * own CSP ('self' only, infra/http/security-headers.ts), and works offline. Without the package
 * installed it is yoga's page: inline scripts, its code, styles and editor workers from unpkg, its
 * icon from GitHub; that page alone gets this policy of its own (framing stays forbidden).
 */
const UNPKG_GRAPHIQL_CSP = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline' https://unpkg.com",
  "worker-src 'self' blob:",
  "style-src 'self' 'unsafe-inline' https://unpkg.com",
  "font-src 'self' data: https://unpkg.com",
  "img-src 'self' data: https://raw.githubusercontent.com",
  "connect-src 'self' https://unpkg.com",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The analytics reports over GraphQL (graphql-yoga) at /graphql, with GraphiQL outside production.
 * Requests authenticate as the REST API does (X-Server-API-Key or an admin bearer token); depth and
 * cost are bounded before anything runs; errors a user can fix carry extensions.code.
 */
export function graphqlRoutes(deps: GraphqlDeps) {
  const log = deps.logger.child({ component: 'graphql' });
  const limits: Plugin = {
    onValidate({ addValidationRule }) {
      addValidationRule(queryLimitsRule(deps.limits ?? DEFAULT_LIMITS, REPORT_FIELDS));
    },
  };
  // read once; none in production, where there is no GraphiQL
  const graphiqlAssets = deps.production ? undefined : loadGraphiqlAssets();
  if (!deps.production && !graphiqlAssets)
    log.info(`GraphiQL loads its files from unpkg.com (${GRAPHIQL_PACKAGE} is not installed): it needs the internet`);
  const yoga = createYoga<ServerContext, AnalyticsContext>({
    schema: analyticsSchema<ServerContext & AnalyticsContext>(deps.reports, deps.dmarc),
    graphqlEndpoint: '/graphql',
    graphiql: deps.production
      ? false
      : {
          title: 'Postlog analytics',
          defaultQuery:
            '{\n  funnel { accepted delivered bounced opened { unique human { unique } } clicked { unique } }\n}\n',
        },
    ...(graphiqlAssets ? { renderGraphiQL: graphiqlPage } : {}),
    landingPage: false,
    // yoga's default CORS echoes any Origin with credentials allowed; CORS is the server's one
    // policy instead (infra/http/cors.ts: off unless POSTLOG_CORS_ORIGINS lists origins)
    cors: false,
    plugins: [limits],
    logging: {
      debug: (...a: unknown[]) => log.debug(a.map(String).join(' ')),
      info: (...a: unknown[]) => log.info(a.map(String).join(' ')),
      warn: (...a: unknown[]) => log.warn(a.map(String).join(' ')),
      error: (...a: unknown[]) => log.error(a.map(String).join(' ')),
    },
    // errors a user can fix are GraphQLErrors with a code; anything else is a fault: logged, and masked in production
    maskedErrors: {
      errorMessage: 'internal error; the request id is in the logs',
      isDev: !deps.production,
      maskError(error, message, isDev) {
        const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
        if (!(original instanceof GraphQLError))
          log.error({ error: (original as Error)?.message ?? String(original) }, 'GraphQL resolver failed');
        return maskError(error, message, isDev); // extensions.code INTERNAL_SERVER_ERROR
      },
    },
    context: ({ req }): AnalyticsContext => ({
      async scope(serverId) {
        if (serverId !== undefined && !UUID.test(serverId)) throw userError('server not found', 'NOT_FOUND');
        const scope = await serverScope(deps.tenancy, req, serverId, 'viewer'); // analytics only read, over POST too
        if (!scope.ok) throw userError(scope.message, 'NOT_FOUND');
        return { serverIds: scope.servers };
      },
    }),
  });

  const auth = authenticate(deps.auth, ['server', 'admin']);
  return async function plugin(app: FastifyInstance) {
    if (graphiqlAssets) {
      app.get<{ Params: { name: string } }>(
        `${GRAPHIQL_ASSETS_PATH}/:name`,
        { schema: { hide: true } },
        async (req, reply) => {
          const asset = graphiqlAssets.get(req.params.name);
          if (!asset) return sendError(reply, 'NOT_FOUND', `no GraphiQL file ${req.params.name}`);
          // the same files until Postlog is updated; a day is short enough for that
          return reply.type(asset.type).header('cache-control', 'public, max-age=86400').send(asset.body);
        },
      );
    }
    app.route({
      url: '/graphql',
      // no OPTIONS: preflights are answered by the CORS policy when it is on (405 otherwise)
      method: ['GET', 'POST'],
      schema: { hide: true },
      config: { rateLimit: {} },
      preHandler: async (req, reply) => {
        if (!deps.production && isGraphiqlPage(req)) return;
        return auth(req, reply);
      },
      handler: async (req, reply) => {
        const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
        response.headers.forEach((value, key) => void reply.header(key, value));
        if (!deps.production && !graphiqlAssets && /text\/html/.test(response.headers.get('content-type') ?? ''))
          reply.header('content-security-policy', UNPKG_GRAPHIQL_CSP);
        reply.status(response.status);
        reply.send(response.body);
        return reply;
      },
    });
  };
}
