import type { Config } from './schema.js';

/**
 * Where analytics live, decided here only: in ClickHouse when POSTLOG_CLICKHOUSE_URL is set (a sink
 * projection fills it and the reports read it; the embedded analytics tables are then not kept),
 * otherwise in this PostgreSQL (the analytics projection fills its tables).
 */
export function analyticsStore(config: Pick<Config, 'clickhouseUrl'>): 'clickhouse' | 'postgres' {
  return config.clickhouseUrl !== undefined ? 'clickhouse' : 'postgres';
}
