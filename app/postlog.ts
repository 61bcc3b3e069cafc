import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { Gauge } from 'prom-client';
import { projectionLagSeconds, projectionStatus } from '../projections/maintenance.js';
import { MtaWorker } from '../mta/mta-worker.js';
import { DeliveryQueue, depthByDestination } from '../mta/queue/delivery-queue.js';
import { parseSmartHost, Router } from '../mta/routing/router.js';
import { tlsPolicyFor } from '../mta/routing/tls-policy.js';
import { bindingFor } from '../mta/settings/ip-pools.js';
import { ServerSettings } from '../mta/settings/server-settings.js';
import { Shaper } from '../mta/shaping/shaper.js';
import { projections as allProjections, outboxProjections } from '../projections/registry.js';
import { ProjectionRunner, type Projection } from '../projections/runner.js';
import { sinkProjections } from '../projections/sinks.js';
import { analyticsReportsFor } from '../read-api/analytics/index.js';
import { graphqlRoutes } from '../read-api/graphql/graphql-routes.js';
import { analyticsProjection } from '../projections/analytics/postgres-analytics-projection.js';
import { postalMessageRoutes } from '../read-api/postal-message-routes.js';
import { v2MessageRoutes } from '../read-api/v2-message-routes.js';
import { messageListRoutes } from '../read-api/message-list-routes.js';
import { managementRoutes } from '../write-side/admin/management-routes.js';
import { messageActionRoutes } from '../write-side/admin/message-action-routes.js';
import { suppressionRoutes } from '../write-side/admin/suppression-routes.js';
import { routeRoutes } from '../write-side/admin/route-routes.js';
import { webhookRoutes } from '../write-side/admin/webhook-routes.js';
import { jwksRoutes } from '../read-api/jwks-routes.js';
import { WebhookDispatcher } from '../projections/webhooks/webhook-dispatcher.js';
import { createJsonPoster } from '../infra/http/outbound.js';
import { SigningKeys, WebhookOutbox, WebhookStore } from '../infra/webhooks/index.js';
import { RouteStore } from '../infra/routes/index.js';
import { RouteDispatcher } from '../mta/inbound/route-dispatcher.js';
import { postalSendRoutes } from '../write-side/send/postal-send-routes.js';
import { createSubmissionServer } from '../write-side/smtp/submission-server.js';
import { AuthThrottle } from '../write-side/smtp/auth-throttle.js';
import { createInboundServer } from '../mta/inbound/inbound-server.js';
import { runRetention } from '../write-side/retention/retention-job.js';
import { HitRecorder } from '../write-side/tracking/hit-recorder.js';
import { trackingRoutes } from '../write-side/tracking/tracking-routes.js';
import type { SMTPServer } from 'smtp-server';
import { loadTlsMaterial } from '../infra/tls/certificate.js';
import { isSupervised } from './cluster/supervisor-link.js';
import { v2SendRoutes } from '../write-side/send/v2-send-routes.js';
import type { Config } from '../infra/config/index.js';
import { ContentStore } from '../infra/content/index.js';
import { createResolver } from '../infra/dns/index.js';
import { createEventStore, type EventStore } from '../infra/event-store/index.js';
import { Authenticator } from '../infra/http/auth.js';
import { createHttpServer } from '../infra/http/index.js';
import type { Logger } from '../infra/logging/index.js';
import { IdempotencyKeys, MessageIdAllocator, SendLimits, SuppressionList } from '../infra/messages/index.js';
import { createMetrics, type Metrics } from '../infra/metrics/index.js';
import { createPool, migrate, openDatabase, type Database } from '../infra/postgres/index.js';
import { DatabaseReachability } from '../infra/postgres/database-reachability.js';
import { TenancyStore } from '../infra/tenancy/index.js';
import { version } from '../infra/version.js';
import { recipientRules } from '../write-side/send/recipient-rules.js';

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

/** Gauges computed when Prometheus scrapes: projection lag and queue depth per destination. */
function registerQueueAndLagMetrics(
  metrics: Metrics,
  database: Database,
  eventStore: EventStore,
  projected: Projection[],
): void {
  const projectionNames = projected.map((p) => p.name);
  // lag counts only the events a projection takes (see projectionStatus)
  const filters = Object.fromEntries(projected.map((p) => [p.name, p.filter]));
  new Gauge({
    name: 'postlog_projection_lag_events',
    // the processes that report it report the same figure: show it once, not summed
    aggregator: 'max',
    help: 'Events in the log after the projection checkpoint (by global position)',
    labelNames: ['projection'],
    registers: [metrics.registry],
    async collect() {
      for (const s of await projectionStatus(database.pool, projectionNames, eventStore, filters))
        this.set({ projection: s.name }, s.lagEvents ?? 0);
    },
  });
  new Gauge({
    name: 'postlog_projection_lag_seconds',
    // the processes that report it report the same figure: show it once, not summed
    aggregator: 'max',
    help: 'How long the oldest event a projection has not applied yet has been waiting',
    labelNames: ['projection'],
    registers: [metrics.registry],
    async collect() {
      for (const s of await projectionStatus(database.pool, projectionNames, eventStore, filters))
        this.set({ projection: s.name }, s.lagSeconds);
    },
  });
  new Gauge({
    name: 'postlog_queue_depth',
    // the processes that report it report the same figure: show it once, not summed
    aggregator: 'max',
    help: 'Messages waiting in the delivery queue, per recipient domain (largest 50)',
    labelNames: ['destination', 'state'],
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const d of await depthByDestination(database.pool, 50)) {
        this.set({ destination: d.destination, state: 'queued' }, d.queued);
        this.set({ destination: d.destination, state: 'held' }, d.held);
      }
    },
  });
}

function listenSmtp(server: SMTPServer, host: string, port: number, setting: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`SMTP port ${port} is in use: set ${setting} to a free port`)
          : err.code === 'EACCES'
            ? new Error(
                `no permission to listen on port ${port}: use a port above 1023 or grant the capability (${setting})`,
              )
            : err,
      ),
    );
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      server.on('error', () => undefined); // per-connection errors are the client's business
      resolve();
    });
  });
}

function createMta(
  config: Config,
  d: {
    database: Database;
    eventStore: EventStore;
    contents: ContentStore;
    tenancy: TenancyStore;
    suppressions: SuppressionList;
    metrics: Metrics;
    logger: Logger;
    resolver: ReturnType<typeof createResolver>;
  },
): MtaWorker {
  const router = new Router(d.resolver, config.mtaPort, { smartHost: parseSmartHost(config.smartHost) });
  const shaper = new Shaper((destination) => ({
    maxConnections: config.destinations[destination]?.maxConnections ?? config.mtaMaxConnectionsPerDestination,
    messagesPerMinute: config.destinations[destination]?.messagesPerMinute ?? config.mtaMessagesPerMinutePerDestination,
  }));
  const servers = new ServerSettings(d.tenancy);
  const mtaLogger = d.logger.child({ component: 'mta' });
  return new MtaWorker({
    bindingFor: async (serverId) => {
      const server = await servers.of(serverId);
      return server ? bindingFor(server, config.ipPools, config.hostname, mtaLogger) : undefined;
    },
    mayDeliver: (serverId) => servers.mayDeliver(serverId),
    queue: new DeliveryQueue(d.database.pool, `${config.hostname}:${process.pid}`),
    router,
    shaper,
    eventStore: d.eventStore,
    contents: d.contents,
    tenancy: d.tenancy,
    suppressions: d.suppressions,
    logger: mtaLogger,
    metrics: d.metrics,
    hostname: config.hostname,
    retryPolicy: { delaysSeconds: config.retryDelays, maxAgeSeconds: config.maxQueueHours * 3600 },
    tlsPolicyFor: (domain) =>
      tlsPolicyFor(domain, {
        smartHostTls: config.smartHost ? config.smartHostTls : undefined,
        destinations: config.destinations,
        mtaTls: config.mtaTls,
      }),
    smartHostAuth:
      config.smartHostUser && config.smartHostPassword
        ? { user: config.smartHostUser, pass: config.smartHostPassword }
        : undefined,
    smartHostSecure: config.smartHost !== undefined && config.smartHostTls === 'tls',
    maxInFlight: config.mtaMaxInFlight,
    messagesPerConnection: config.mtaMessagesPerConnection,
    connectionsPerDestination: config.mtaMaxConnectionsPerDestination,
    leaseSeconds: config.mtaLeaseSeconds,
    pollMs: config.mtaPollMs,
  });
}

export function dnsSettings(config: Config) {
  return {
    spfInclude: config.dnsSpfInclude ?? `spf.${config.hostname}`,
    returnPathTarget: config.dnsReturnPathTarget ?? `rp.${config.hostname}`,
  };
}

/** How a process started by the supervisor (POSTLOG_PROCESSES > 1) takes part in the whole. */
export interface ProcessGroup {
  /** Metrics of every process, aggregated, for /metrics. */
  metricsText: () => Promise<string>;
  /** /ready answers 200 only once every process finished start-up. */
  everyProcessReady: () => boolean;
}

/**
 * The composition root: the only place that knows which adapters are in use and which roles
 * this process runs.
 */
export async function startPostlog(config: Config, logger: Logger, group?: ProcessGroup): Promise<RunningPostlog> {
  const started = performance.now();
  let ready = false;
  /** Watched from the end of start-up: /ready answers 503 while this process cannot reach its database. */
  let databaseReachability: DatabaseReachability | undefined;
  const metrics = createMetrics();
  const database = await openDatabase(config, logger);
  try {
    await migrate(database.pool, logger);
  } catch (err) {
    await database.close();
    throw err;
  }
  // POSTLOG_EVENT_STORE: the log in this Postgres (default) or in KurrentDB/EventStoreDB
  let eventStore: EventStore;
  try {
    eventStore = await createEventStore(config, database, logger, metrics);
  } catch (err) {
    await database.close();
    throw err;
  }
  const tenancy = new TenancyStore(database.pool, dnsSettings(config));
  const auth = new Authenticator(tenancy);
  const contents = new ContentStore(database.pool);

  const recorder = new HitRecorder({
    eventStore,
    logger: logger.child({ component: 'tracking' }),
    onRecorded: (hit, machine) => metrics.trackingHits.inc({ kind: hit.kind, machine: String(machine) }),
  });
  const send = {
    publicUrl: () => config.publicUrl,
    eventStore,
    contents,
    ids: new MessageIdAllocator(database.pool),
    suppressions: new SuppressionList(database.pool, config.suppressionDays),
    sendLimits: new SendLimits(database.pool),
    tenancy,
    auth,
    hostname: config.hostname,
    maxMessageBytes: config.maxMessageBytes,
    recipients: recipientRules(config.addressLiterals),
  };
  const read = { eventStore, contents, auth, tenancy };
  const routes = new RouteStore(database.pool);
  const routeDispatcher = config.roles.includes('inbound')
    ? new RouteDispatcher({
        routes,
        contents,
        logger: logger.child({ component: 'routes' }),
        retryDelays: config.routeRetryDelays,
        allowPrivate: config.routesAllowPrivateEndpoints,
      })
    : undefined;
  const resolver = createResolver(config.dnsServers);
  const signingKeys = new SigningKeys(database.pool);
  const webhooks = new WebhookStore(database.pool);
  // the projector role sends webhooks: several projector processes share the outbox
  // the outbox's own connections commit without waiting for the WAL flush: a lease or attempt record
  // lost in a crash only means a webhook is sent again (at-least-once), and every delivery commits twice
  const outboxPool = config.roles.includes('projector')
    ? createPool(database.connectionString, 4, logger, { synchronous_commit: 'off' })
    : undefined;
  const webhookDispatcher = outboxPool
    ? new WebhookDispatcher({
        outbox: new WebhookOutbox(outboxPool),
        keys: signingKeys,
        poster: createJsonPoster({
          timeoutMs: config.webhookTimeoutSeconds * 1000,
          allowPrivate: config.webhooksAllowPrivateEndpoints,
          maxSocketsPerOrigin: config.webhookConcurrency,
        }),
        logger: logger.child({ component: 'webhooks' }),
        metrics,
        policy: {
          delaysSeconds: config.webhookRetryDelays,
          maxAgeSeconds: config.webhookMaxAgeHours * 3600,
          breakerFailures: config.webhookCircuitBreakerFailures,
          breakerCooldownSeconds: config.webhookCircuitBreakerCooldownSeconds,
        },
        concurrency: config.webhookConcurrency,
        pollMs: config.webhookPollMs,
        leaseSeconds: config.webhookTimeoutSeconds + 60,
        logDays: config.webhookLogDays,
      })
    : undefined;

  // with ClickHouse configured, analytics go there (a sink projection) instead of the embedded tables
  const postgresProjections = config.clickhouseUrl
    ? allProjections.filter((p) => p !== analyticsProjection)
    : allProjections;
  // sinks (Kafka, ClickHouse) connect to their systems: only a projector process builds them
  const sinks = config.roles.includes('projector') ? sinkProjections({ config, logger, metrics, eventStore }) : [];
  const enabledProjections: Projection[] = [...postgresProjections, ...outboxProjections(config), ...sinks];
  /** Releases what was built before a start-up step failed (the runners never started). */
  const releaseUnstarted = async () => {
    await Promise.all(sinks.map((sink) => sink.close?.().catch(() => undefined)));
    await outboxPool?.end().catch(() => undefined);
  };
  const projections = config.roles.includes('projector')
    ? enabledProjections.map(
        (projection) =>
          new ProjectionRunner(projection, {
            pool: database.pool,
            connectionString: database.connectionString,
            eventStore,
            logger: logger.child({ component: 'projector' }),
            onBatch: (name, events) => metrics.projectionEvents.inc({ projection: name }, events.length),
          }),
      )
    : [];
  const mta = config.roles.includes('mta')
    ? createMta(config, {
        database,
        eventStore,
        contents,
        tenancy,
        suppressions: send.suppressions,
        metrics,
        logger,
        resolver,
      })
    : undefined;
  const api = config.roles.includes('api');
  const plugins: FastifyPluginAsync[] = api
    ? [
        postalSendRoutes(send),
        v2SendRoutes({ ...send, idempotency: new IdempotencyKeys(database.pool) }),
        postalMessageRoutes(read),
        v2MessageRoutes(read),
        messageListRoutes({ ...read, pool: database.pool }),
        managementRoutes({ tenancy, auth, resolver }),
        messageActionRoutes({ eventStore, auth, tenancy, pool: database.pool }),
        suppressionRoutes({ suppressions: send.suppressions, auth, tenancy }),
        routeRoutes({ routes, auth, tenancy }),
        webhookRoutes({ webhooks, auth, tenancy, allowPrivate: config.webhooksAllowPrivateEndpoints }),
      ]
    : [];
  const analytics = config.roles.includes('graphql')
    ? analyticsReportsFor(config, { pool: database.pool, logger })
    : undefined;
  if (analytics)
    plugins.push(
      graphqlRoutes({
        reports: analytics.reports,
        auth,
        tenancy,
        logger,
        production: config.environment === 'production',
      }),
    );
  if (config.roles.includes('tracking'))
    plugins.push(trackingRoutes({ tenancy, recorder, eventStore, suppressions: send.suppressions, logger }));
  // the public key receivers verify webhook signatures with: on the public (tracking) and API addresses
  if (api || config.roles.includes('tracking')) plugins.push(jwksRoutes({ keys: signingKeys }));

  const http = await createHttpServer({
    logger,
    metrics,
    eventStore,
    isReady: () => ready && databaseReachability?.reachable === true && (group?.everyProcessReady() ?? true),
    version,
    production: config.environment === 'production',
    rateLimitPerSecond: config.apiRateLimit,
    metricsToken: config.metricsToken,
    listenHost: config.httpHost,
    publicUrl: config.publicUrl,
    corsOrigins: config.corsOrigins,
    ...(group ? { metricsText: group.metricsText } : {}),
    // base64 attachments make a JSON body about 4/3 of the message it carries
    bodyLimitBytes: Math.ceil(config.maxMessageBytes * 1.4) + 64 * 1024,
    plugins,
  });
  try {
    await http.listen({ host: config.httpHost, port: config.httpPort });
  } catch (err) {
    await analytics?.close();
    await releaseUnstarted();
    await eventStore.close();
    await database.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE')
      throw new Error(`HTTP port ${config.httpPort} is in use: set POSTLOG_HTTP_PORT to a free port`);
    throw err;
  }
  const address = http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  const httpUrl = `http://${config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost}:${port}`;
  // queue depth and projection lag come from the processes that work the queue and the projections
  // (one scrape of several processes then queries the database once, not once per process)
  if (config.roles.includes('projector') || config.roles.includes('mta'))
    registerQueueAndLagMetrics(
      metrics,
      database,
      eventStore,
      config.roles.includes('projector') ? enabledProjections : [],
    );
  const smtpServers: SMTPServer[] = [];
  if (config.roles.includes('smtp') || config.roles.includes('inbound')) {
    try {
      const tls = await loadTlsMaterial({
        certFile: config.tlsCertFile,
        keyFile: config.tlsKeyFile,
        dataDir: config.dataDir,
        hostname: config.hostname,
        logger,
        announced: isSupervised(),
      });
      if (config.roles.includes('inbound')) {
        const inbound = createInboundServer(
          { eventStore, suppressions: send.suppressions, logger, tenancy, routes, contents },
          {
            hostname: config.hostname,
            tls,
            maxMessageBytes: config.maxMessageBytes,
            onMessage: (outcome) => metrics.smtpMessages.inc({ listener: 'inbound', outcome }),
          },
        );
        await listenSmtp(inbound, config.smtpHost, config.inboundPort, 'POSTLOG_INBOUND_PORT');
        smtpServers.push(inbound);
      }
      // one login throttle for both submission listeners: failures on 587 count on 465 too
      const authThrottle = new AuthThrottle(config.smtpAuthFailuresPerMinute);
      for (const [port, implicitTls] of config.roles.includes('smtp')
        ? ([
            [config.submissionPort, false],
            [config.submissionTlsPort, true],
          ] as const)
        : []) {
        const server = createSubmissionServer(send, {
          host: config.smtpHost,
          port,
          implicitTls,
          tls,
          allowInsecureAuth: config.smtpAllowInsecureAuth,
          maxRecipients: config.smtpMaxRecipients,
          maxMessagesPerConnection: config.smtpMaxMessagesPerConnection,
          authThrottle,
          logger,
          onMessage: (outcome) =>
            metrics.smtpMessages.inc({ listener: implicitTls ? 'submission-tls' : 'submission', outcome }),
        });
        await listenSmtp(
          server,
          config.smtpHost,
          port,
          implicitTls ? 'POSTLOG_SUBMISSION_TLS_PORT' : 'POSTLOG_SUBMISSION_PORT',
        );
        smtpServers.push(server);
      }
    } catch (err) {
      await Promise.all(smtpServers.map((srv) => new Promise((r) => srv.close(() => r(undefined)))));
      await http.close();
      await analytics?.close();
      await releaseUnstarted();
      await eventStore.close();
      await database.close();
      throw err;
    }
  }
  projections.forEach((p) => p.start());
  mta?.start();
  routeDispatcher?.start();
  webhookDispatcher?.start();
  // retention runs with the projector (it reads the messages read model), every 15 minutes
  const retentionTimer = config.roles.includes('projector')
    ? setInterval(() => {
        runRetention({
          pool: database.pool,
          eventStore,
          logger,
          projectionLagSeconds: projectionLagSeconds(database.pool, eventStore),
        }).catch((err: Error) => logger.error({ error: err.message }, 'retention run failed'));
      }, 15 * 60_000)
    : undefined;
  retentionTimer?.unref();
  databaseReachability = new DatabaseReachability(database.connectionString, logger.child({ component: 'database' }));
  ready = true;
  logger.info(
    {
      http: httpUrl,
      database: database.kind,
      roles: config.roles,
      ms: Math.round(performance.now() - started),
      version,
    },
    // under a supervisor, it announces the whole; each process only says it started
    group
      ? `process started: ${config.roles.join(', ')}`
      : `Postlog is up: ${httpUrl}/health, API docs at ${httpUrl}/docs${smtpServers.length ? `, SMTP submission on ${config.smtpHost}:${config.submissionPort} (STARTTLS) and :${config.submissionTlsPort} (TLS)` : ''}`,
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
        await databaseReachability?.stop(); // the database stops below: that is no outage
        logger.info('shutting down: finishing in-flight requests and appends');
        // stop accepting: SMTP sessions in progress finish their transaction, HTTP requests their appends
        await Promise.all(smtpServers.map((srv) => new Promise((r) => srv.close(() => r(undefined)))));
        await http.close();
        await recorder.drain(); // every answered tracking hit reaches the log
        if (retentionTimer) clearInterval(retentionTimer);
        await mta?.stop(); // finishes the SMTP transactions in progress and records their outcomes
        await routeDispatcher?.stop();
        await webhookDispatcher?.stop();
        await outboxPool?.end();
        await Promise.all(projections.map((p) => p.stop()));
        await analytics?.close();
        await eventStore.close(); // drains the group-commit queue
        await database.close();
        logger.info('stopped cleanly');
      })();
      return stopping;
    },
  };
}
