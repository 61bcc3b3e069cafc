#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError, loadConfig, roleNames, type Config } from '../config/index.js';
import { createLogger, type Logger } from '../logging/index.js';
import { startPostlog } from '../app.js';
import { migrate, openDatabase } from '../postgres/index.js';
import { version } from '../version.js';

/** Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or usage. */
function configure(overrides: Partial<Record<keyof Config, unknown>> = {}): { config: Config; logger: Logger } {
  try {
    const config = loadConfig({ overrides });
    return { config, logger: createLogger({ level: config.logLevel, format: config.logFormat }) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`postlog: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function withDatabase<T>(overrides: Partial<Record<keyof Config, unknown>>, work: (db: Awaited<ReturnType<typeof openDatabase>>, logger: Logger, config: Config) => Promise<T>): Promise<T> {
  const { config, logger } = configure({ logLevel: process.env.POSTLOG_LOG_LEVEL ?? 'warn', ...overrides });
  const db = await openDatabase(config, logger);
  try {
    await migrate(db.pool, logger);
    return await work(db, logger, config);
  } finally {
    await db.close();
  }
}

const program = new Command()
  .name('postlog')
  .description('Postlog: self-hosted, event-sourced email delivery')
  .version(version);

program
  .command('start')
  .description('run Postlog (all roles by default) until SIGINT/SIGTERM')
  .option('--roles <list>', `comma-separated roles to run (${roleNames.join(',')})`)
  .action(async (opts: { roles?: string }) => {
    const { config, logger } = configure({ roles: opts.roles });
    let app: Awaited<ReturnType<typeof startPostlog>>;
    try {
      app = await startPostlog(config, logger);
    } catch (err) {
      logger.fatal({ err }, `Postlog could not start: ${(err as Error).message}`);
      logger.flush?.();
      process.exit(1);
    }
    let firstSignalAt = 0;
    const shutdown = (signal: string) => {
      if (firstSignalAt > 0) {
        // `npm start` forwards the terminal's Ctrl-C, so one keypress can arrive twice: only a
        // signal well after the first means "stop waiting".
        if (Date.now() - firstSignalAt < 1500) return;
        logger.warn(`${signal} again: exiting without waiting for in-flight work`);
        process.exit(130);
      }
      firstSignalAt = Date.now();
      logger.info({ signal }, 'signal received');
      const timer = setTimeout(() => {
        logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took too long; exiting');
        process.exit(1);
      }, config.shutdownTimeoutMs);
      timer.unref();
      app.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });

program
  .command('migrate')
  .description('apply database migrations and exit')
  .action(async () => {
    await withDatabase({ logLevel: process.env.POSTLOG_LOG_LEVEL ?? 'info' }, async (db) => {
      const { rows } = await db.pool.query<{ version: number }>('SELECT max(version) AS version FROM postlog_migrations');
      process.stdout.write(`schema is at version ${rows[0]?.version ?? 0}\n`);
    });
  });

program
  .command('init')
  .description('create the data directory and database schema')
  .option('--json', 'print the result as JSON')
  .action(async (opts: { json?: boolean }) => {
    await withDatabase({}, async (db, _logger, config) => {
      const { rows } = await db.pool.query<{ version: number }>('SELECT max(version) AS version FROM postlog_migrations');
      const result = { dataDir: config.dataDir, database: db.kind, schemaVersion: rows[0]?.version ?? 0 };
      process.stdout.write(opts.json ? JSON.stringify(result) + '\n' : `initialised ${db.kind} database (schema v${result.schemaVersion}) in ${config.dataDir}\n`);
    });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`postlog: ${(err as Error).message}\n`);
  process.exit(1);
});
