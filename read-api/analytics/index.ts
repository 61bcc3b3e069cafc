import type pg from 'pg';
import type { Config } from '../../infra/config/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { PostgresReports } from './postgres-reports.js';
import type { AnalyticsReports } from './reports-port.js';

export * from './reports-port.js';

export interface AnalyticsBackend {
  reports: AnalyticsReports;
  close(): Promise<void>;
}

/**
 * The report adapter this configuration uses: ClickHouse when POSTLOG_CLICKHOUSE_URL is set (the
 * sink projection fills it), else the embedded Postgres tables (the analytics projection fills them).
 */
export function analyticsReportsFor(config: Config, deps: { pool: pg.Pool; logger: Logger }): AnalyticsBackend {
  if (config.clickhouseUrl) throw new Error('ClickHouse analytics are not wired yet');
  void deps.logger;
  return { reports: new PostgresReports(deps.pool), close: async () => undefined };
}
