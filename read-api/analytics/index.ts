export * from './reports-port.js';
export { ClickHouseReports } from './clickhouse-reports.js';
export { PostgresReports } from './postgres-reports.js';
