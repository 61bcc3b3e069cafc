import type { FastifyInstance } from 'fastify';
import type { Config } from './config/index.js';
import { PostgresEventStore, type EventStore } from './event-store/index.js';
import { createHttpServer } from './http/index.js';
import type { Logger } from './logging/index.js';
import { createMetrics, type Metrics } from './metrics/index.js';
import { migrate, openDatabase, type Database } from './postgres/index.js';
import { version } from './version.js';

export interface RunningPostlog {
  config: Config;
  database: Database;
  eventStore: EventStore;
  metrics: Metrics;
  http: FastifyInstance;
  /** e.g. http://127.0.0.1:5000 */
  httpUrl: string;
  stop(): Promise<void>;
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

  const http = createHttpServer({ logger, metrics, eventStore, isReady: () => ready, version });
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
    `Postlog is up: ${httpUrl}/health`,
  );

  let stopping: Promise<void> | undefined;
  return {
    config,
    database,
    eventStore,
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
