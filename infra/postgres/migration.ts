/** An index built with CREATE INDEX CONCURRENTLY: writers of its table are not held up meanwhile. */
export interface ConcurrentIndex {
  name: string;
  table: string;
  /** What follows `ON <table>`, e.g. `(created_at, sha256)` or `USING brin (at)`. */
  definition: string;
}

/**
 * A schema change. `sql` runs in one transaction with the record of the migration. Indexes on
 * tables that may be large in a running installation go in `concurrentIndexes` instead (then
 * without `sql`): built without blocking writes (an upgrade does not stop accepting mail while
 * they build), outside a transaction, and the migration is recorded once all are valid.
 */
export type Migration = { version: number; name: string } & (
  | { sql: string; concurrentIndexes?: undefined }
  | { sql?: undefined; concurrentIndexes: ConcurrentIndex[] }
);
