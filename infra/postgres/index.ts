export { EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded-server.js';
export { createPool } from './pool.js';
export { copyRowsBinary, parseBinaryCopy } from './binary-copy.js';
export { inResultTransaction, inTransaction } from './transaction.js';
export { migrate, type MigrateOptions, type MigrationReport } from './migrate.js';
export { migrations } from './migrations-list.js';
export type { ConcurrentIndex, Migration } from './migration.js';
export { openDatabase, type Database } from './database.js';
