import type { FastifyInstance } from 'fastify';
import { postalMessageRoutes } from '../read-api/postal-message-routes.js';
import { v2MessageRoutes } from '../read-api/v2-message-routes.js';
import { managementRoutes } from '../write-side/admin/management-routes.js';
import { postalSendRoutes } from '../write-side/send/postal-send-routes.js';
import { v2SendRoutes } from '../write-side/send/v2-send-routes.js';
import type { Config } from './config/index.js';
import { ContentStore } from './content/index.js';
import { createResolver } from './dns/index.js';
import { PostgresEventStore, type EventStore } from './event-store/index.js';
import { Authenticator } from './http/auth.js';
import { createHttpServer } from './http/index.js';
import type { Logger } from './logging/index.js';
import { IdempotencyKeys, MessageIdAllocator, SendLimits, SuppressionList } from './messages/index.js';
import { createMetrics, type Metrics } from './metrics/index.js';
import { migrate, openDatabase, type Database } from './postgres/index.js';
import { TenancyStore } from './tenancy/index.js';
import { version } from './version.js';

export interface RunningPostlog {
  config: Config;
  database: Database;
  eventStore: EventStore;
  tenancy: TenancyStore;
  metrics: Metrics;
  http: FastifyInstance;
  /** e.g. http://127.0.0.1:5000 */
  httpUrl: string;
  stop(): Promise<void>;
}

export function dnsSettings(config: Config) {
  return {
    spfInclude: config.dnsSpfInclude ?? `spf.${config.hostname}`,
    returnPathTarget: config.dnsReturnPathTarget ?? `rp.${config.hostname}`,
  };
}

/**
 * The composition root: the only place that knows which adapters are in use and which roles
 * this process runs.
 */
export async function startPostlog(config: Config, logger: Logger): Promise<RunningPostlog> {
  const started = performance.now();
  let ready = false;
  const metrics = createMetrics();
  const database = await openDatabase(config, logger);
  try {
    await migrate(database.pool, logger);
  } catch (err) {
    await database.close();
    throw err;
  }
  const eventStore = new PostgresEventStore({
    pool: database.pool,
    connectionString: database.connectionString,
    logger: logger.child({ component: 'event-store' }),
    onBatch: (appends, events, ms) => {
      metrics.appendBatchSeconds.observe(ms / 1000);
      metrics.appendsPerCommit.observe(appends);
      metrics.appendedEvents.inc(events);
    },
  });
  const tenancy = new TenancyStore(database.pool, dnsSettings(config));
  const auth = new Authenticator(tenancy);
  const contents = new ContentStore(database.pool);
  const send = {
    eventStore,
    contents,
    ids: new MessageIdAllocator(database.pool),
    suppressions: new SuppressionList(database.pool),
    sendLimits: new SendLimits(database.pool),
    tenancy,
    auth,
    hostname: config.hostname,
    maxMessageBytes: config.maxMessageBytes,
  };
  const read = { eventStore, contents, auth, tenancy };
  const api = config.roles.includes('api');
  const plugins = api
    ? [
        postalSendRoutes(send),
        v2SendRoutes({ ...send, idempotency: new IdempotencyKeys(database.pool) }),
        postalMessageRoutes(read),
        v2MessageRoutes(read),
        managementRoutes({ tenancy, auth, resolver: createResolver(config.dnsServers) }),
      ]
    : [];

  const http = await createHttpServer({
    logger,
    metrics,
    eventStore,
    isReady: () => ready,
    version,
    production: config.environment === 'production',
    rateLimitPerSecond: config.apiRateLimit,
    // base64 attachments make a JSON body about 4/3 of the message it carries
    bodyLimitBytes: Math.ceil(config.maxMessageBytes * 1.4) + 64 * 1024,
    plugins,
  });
  try {
    await http.listen({ host: config.httpHost, port: config.httpPort });
  } catch (err) {
    await eventStore.close();
    await database.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new Error(`HTTP port ${config.httpPort} is in use: set POSTLOG_HTTP_PORT to a free port`);
    throw err;
  }
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  const httpUrl = `http://${config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost}:${port}`;
  ready = true;
  logger.info(
    { http: httpUrl, database: database.kind, roles: config.roles, ms: Math.round(performance.now() - started), version },
    `Postlog is up: ${httpUrl}/health, API docs at ${httpUrl}/docs`,
  );

  let stopping: Promise<void> | undefined;
  return {
    config,
    database,
    eventStore,
    tenancy,
    metrics,
    http,
    httpUrl,
    stop() {
      stopping ??= (async () => {
        ready = false;
        logger.info('shutting down: finishing in-flight requests and appends');
        await http.close(); // stops accepting, waits for in-flight requests (and their appends)
        await eventStore.close(); // drains the group-commit queue
        await database.close();
        logger.info('stopped cleanly');
      })();
      return stopping;
    },
  };
}
