import type pg from 'pg';
import type { Config } from '../config/index.js';
import type { Logger } from '../logging/index.js';
import { EmbeddedPostgres } from './embedded-server.js';
import { createPool } from './pool.js';

export interface Database {
  pool: pg.Pool;
  connectionString: string;
  /** 'embedded' (owned or shared with another Postlog process) or 'external'. */
  kind: 'embedded' | 'external';
  close(): Promise<void>;
}

/** The external PostgreSQL from POSTLOG_DATABASE_URL, or the embedded one in the data dir. */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'embeddedPgPort' | 'databasePoolSize'>,
  logger: Logger,
): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let connectionString = config.databaseUrl;
  if (connectionString === undefined) {
    embedded = new EmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, logger });
    connectionString = await embedded.start();
  }
  const pool = createPool(connectionString, config.databasePoolSize, logger);
  return {
    pool,
    connectionString,
    kind: embedded ? 'embedded' : 'external',
    async close() {
      await pool.end().catch((err: unknown) => logger.warn({ err }, 'closing the connection pool failed'));
      await embedded?.stop();
    },
  };
}
