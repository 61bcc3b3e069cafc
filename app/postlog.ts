import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Config } from '../infra/config/index.js';
import type { EventStore } from '../infra/event-store/index.js';
import { eventStoreFor } from './adapters.js';
import { createHttpServer } from '../infra/http/index.js';
import { dashboardAssets } from '../infra/http/dashboard-assets.js';
import type { Logger } from '../infra/logging/index.js';
import { createMetrics, type Metrics } from '../infra/metrics/index.js';
import { migrate, openDatabase, type Database } from '../infra/postgres/index.js';
import { prepareSealedSecrets } from '../infra/secrets/index.js';
import { DatabaseReachability } from '../infra/postgres/database-reachability.js';
import type { TenancyStore } from '../infra/tenancy/index.js';
import { version } from '../infra/version.js';
import { roles, type RoleSetUp } from './roles/index.js';
import { isSupervised } from './cluster/supervisor-link.js';
import { checkListenPorts, listenProblem, plannedListeners, PortsUnavailable } from './listen-ports.js';
import { buildServices, sealedColumns } from './services.js';
import { StopStack } from './stop-stack.js';

export { dnsSettings } from './services.js';

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

/** The built web dashboard: dist/dashboard beside dist/app (`npm run build` makes it). */
const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url));
/** How a process started by the supervisor (POSTLOG_PROCESSES > 1) takes part in the whole. */
export interface ProcessGroup {
  /** Metrics of every process, aggregated, for /metrics. */
  metricsText: () => Promise<string>;
  /** /ready answers 200 only once every process finished start-up. */
  everyProcessReady: () => boolean;
  /** The database as the supervisor opened it: this process reaches even an embedded one by URL. */
  databaseKind?: Database['kind'] | undefined;
  /** This process's name in the supervisor's plan (web.1, worker), the label of its own metrics. */
  processName?: string | undefined;
}

/**
 * The composition root: the only place that knows which adapters are in use and which roles this
 * process runs. Start-up is a loop over the enabled roles; what it starts goes on one stop stack,
 * which a failed start-up unwinds as far as it got and stop() unwinds whole.
 */
export async function startPostlog(config: Config, logger: Logger, group?: ProcessGroup): Promise<RunningPostlog> {
  const started = performance.now();
  let ready = false;
  /** Watched from the end of start-up: /ready answers 503 while this process cannot reach its database. */
  let databaseReachability: DatabaseReachability | undefined;
  // a port that is taken or given twice is said before the database starts (see checkListenPorts)
  await checkListenPorts(plannedListeners(config), { probe: !isSupervised() });
  const metrics = createMetrics(group?.processName);
  const stack = new StopStack(logger);
  const database = await openDatabase(config, logger);
  stack.push('database', () => database.close());
  try {
    await migrate(database.pool, logger);
    // POSTLOG_EVENT_STORE: the log in this Postgres (default) or in KurrentDB/EventStoreDB
    const eventStore = await eventStoreFor(config, database, logger, metrics);
    stack.push('event log', () => eventStore.close()); // drains the group-commit queue
    const services = buildServices(config, logger, metrics, database, eventStore);
    // secrets an earlier version kept in plaintext are sealed once; a missing key is said in the log
    await prepareSealedSecrets(database.pool, services.secrets, sealedColumns, logger);
    const enabled = roles.filter((role) => config.roles.includes(role.name));
    const setUp: RoleSetUp[] = [];
    for (const role of enabled) setUp.push(await role.setUp(services, stack));
    const plugins: FastifyPluginAsync[] = setUp.flatMap((r) => r.routes ?? []);
    // the background work starts last but stops right after the listeners close (its place on
    // the stack is taken here): new work stops coming in first, then the work in progress ends
    const background = new StopStack(logger);
    stack.push('background work', () => background.unwind());

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
      dashboard: config.roles.includes('api') ? dashboardAssets(DASHBOARD_DIR) : undefined,
    });
    // every listener is tried, and every port that cannot be taken is reported at once (PortsUnavailable)
    const portProblems: string[] = [];
    try {
      await http.listen({ host: config.httpHost, port: config.httpPort });
    } catch (err) {
      if (!(err as NodeJS.ErrnoException).code) throw err;
      portProblems.push(listenProblem(plannedListeners(config)[0]!, err as Error));
    }
    // HTTP requests in progress finish their appends
    stack.push('HTTP', () => http.close());
    const address = http.server.address();
    const port = typeof address === 'object' && address ? address.port : config.httpPort;
    const httpUrl = `http://${config.httpHost.includes(':') ? `[${config.httpHost}]` : config.httpHost}:${port}`;
    for (const role of enabled) {
      await role.listen?.(services, stack).catch((err: unknown) => {
        if (!(err instanceof PortsUnavailable)) throw err;
        portProblems.push(...err.problems);
      });
    }
    if (portProblems.length > 0) throw new PortsUnavailable(portProblems);
    // background work last: a process that fails to start has delivered and projected nothing
    for (const r of setUp) r.start?.(background);

    databaseReachability = new DatabaseReachability(database.connectionString, logger.child({ component: 'database' }));
    ready = true;
    const smtp = config.roles.includes('smtp');
    logger.info(
      {
        http: httpUrl,
        database: group?.databaseKind ?? database.kind,
        roles: config.roles,
        ms: Math.round(performance.now() - started),
        version,
      },
      // under a supervisor, it announces the whole; each process only says it started
      group
        ? `process started: ${config.roles.join(', ')}`
        : `Postlog is up: ${httpUrl}/health, API docs at ${httpUrl}/docs${smtp ? `, SMTP submission on ${config.smtpHost}:${config.submissionPort} (STARTTLS) and :${config.submissionTlsPort} (TLS)` : ''}`,
    );

    let stopping: Promise<void> | undefined;
    return {
      config,
      database,
      eventStore,
      tenancy: services.tenancy,
      metrics,
      http,
      httpUrl,
      stop() {
        stopping ??= (async () => {
          ready = false;
          await databaseReachability?.stop(); // the database stops last: that is no outage
          logger.info('shutting down: finishing in-flight requests and appends');
          await stack.unwind();
          logger.info('stopped cleanly');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await stack.unwind();
    throw err;
  }
}
