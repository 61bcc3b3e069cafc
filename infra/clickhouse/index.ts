export { createClickHouse, ClickHouseError, type ClickHouse, type ClickHouseConfig } from './client.js';
export {
  identifier,
  join,
  literal,
  qualified,
  raw,
  sql,
  SqlFragment,
  SqlValueError,
  unixSeconds,
  type SqlValue,
} from './sql.js';
