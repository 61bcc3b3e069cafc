import type pg from 'pg';
import { createClickHouse } from '../../infra/clickhouse/index.js';
import { analyticsStore, type Config } from '../../infra/config/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { ClickHouseReports } from './clickhouse-reports.js';
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
  if (analyticsStore(config) === 'clickhouse' && config.clickhouseUrl) {
    const clickhouse = createClickHouse({
      url: config.clickhouseUrl,
      database: config.clickhouseDatabase,
      user: config.clickhouseUser,
      password: config.clickhousePassword,
      logger: deps.logger,
      // a report that takes longer than this is a report to fix, not to wait for
      requestTimeoutMs: 30_000,
    });
    return { reports: new ClickHouseReports(clickhouse), close: () => clickhouse.close() };
  }
  return { reports: new PostgresReports(deps.pool), close: async () => undefined };
}
