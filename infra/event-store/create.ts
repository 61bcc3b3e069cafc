import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import type { Metrics } from '../metrics/index.js';
import type { Database } from '../postgres/index.js';
import type { EventStore } from './port.js';
import { PostgresEventStore } from './postgres/postgres-event-store.js';

/**
 * The log the configuration names (POSTLOG_EVENT_STORE). With esdb, Postgres still holds the
 * read models, the queue and the projection checkpoints; only the events live in KurrentDB.
 */
export async function createEventStore(
  config: Pick<Config, 'eventStore' | 'esdbUrl'>,
  database: Pick<Database, 'pool' | 'connectionString'>,
  logger: Logger,
  metrics?: Metrics,
): Promise<EventStore> {
  const log = logger.child({ component: 'event-store' });
  if (config.eventStore === 'esdb') {
    // loadConfig refuses esdb without a URL; this guards callers that build a Config by hand
    if (!config.esdbUrl) throw new Error('POSTLOG_EVENT_STORE is esdb but POSTLOG_ESDB_URL is not set');
    // loaded only when chosen: the gRPC client costs ~0.1 s and ~20 MB per process that never uses it
    const { EsdbEventStore } = await import('./esdb/esdb-event-store.js');
    return new EsdbEventStore({
      url: config.esdbUrl,
      logger: log,
      ...(metrics
        ? {
            onAppend: (events: number, ms: number) => {
              metrics.appendBatchSeconds.observe(ms / 1000);
              metrics.appendsPerCommit.observe(1);
              metrics.appendedEvents.inc(events);
            },
            onResubscribe: () => metrics.esdbResubscriptions.inc(),
          }
        : {}),
    });
  }
  return new PostgresEventStore({
    pool: database.pool,
    connectionString: database.connectionString,
    logger: log,
    ...(metrics
      ? {
          onBatch: (appends: number, events: number, ms: number) => {
            metrics.appendBatchSeconds.observe(ms / 1000);
            metrics.appendsPerCommit.observe(appends);
            metrics.appendedEvents.inc(events);
          },
        }
      : {}),
  });
}
