/** An index built with CREATE INDEX CONCURRENTLY: writers of its table are not held up meanwhile. */
export interface ConcurrentIndex {
  name: string;
  table: string;
  /** What follows `ON <table>`, e.g. `(created_at, sha256)` or `USING brin (at)`. */
  definition: string;
  /**
   * The extension its operator class comes from (e.g. `pg_trgm` for `gin_trgm_ops`), created
   * first if the database lacks it. PostgreSQL ships it in contrib; as a trusted extension the
   * database's owner may create it, no superuser needed.
   */
  extension?: string;
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
