/**
 * The content store (raw MIME by SHA-256) and what content retention keeps about it: the bodies to
 * look at again (release candidates) and how far the orphan sweep has come.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 *
 * postlog_put_contents has one current definition (CREATE OR REPLACE), which migrations 2 and 16
 * both run: it uses nothing newer than migration 2's table. A change to it comes with a migration
 * that runs it; should the new text not work on a database at version 1, migrations 2 and 16 keep
 * today's text as a historical export.
 */
import type { ConcurrentIndex } from '../postgres/migration.js';

/** Migration 2: the bodies. */
export const contentsTable = `
      -- raw MIME, content-addressed: events reference it by sha256
      CREATE TABLE contents (
        sha256      text PRIMARY KEY,
        body        bytea NOT NULL,
        size        integer NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
`;

/**
 * How bodies are written (current; migrations 2 and 16). Content is written just before the events
 * that reference it, and a request is only answered after those events commit synchronously. WAL is
 * flushed in order, so that flush covers this insert too: it can commit asynchronously and save a
 * disk flush per request.
 */
export const putContentsFunction = `
      -- created_at now means "last written": writing a body that is already stored (the same
      -- bytes submitted again) moves it forward, so retention never deletes a body a message
      -- accepted a moment ago relies on while the read models have not caught up with it.
      -- (Moved at most once an hour: a duplicate in a busy stream does not rewrite the row each time.)
      -- Such an update locks the row: rows go in hash order, so two batches sharing bodies lock
      -- them in the same order instead of deadlocking.
      CREATE OR REPLACE FUNCTION postlog_put_contents(p_sha256 text[], p_body bytea[]) RETURNS void
      LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM set_config('synchronous_commit', 'off', true);
        INSERT INTO contents AS c (sha256, body, size)
          SELECT h, b, octet_length(b) FROM unnest(p_sha256, p_body) AS u(h, b) ORDER BY h
          ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at
            WHERE c.created_at < excluded.created_at - interval '1 hour';
      END
      $fn$;
`;

/** Migration 15: bodies stored uncompressed, small ones in the row. */
export const contentsStorage = `
      -- By default PostgreSQL tries pglz on every value over 2 KB. Mail bodies are mostly base64
      -- attachments and already-compressed images, which pglz cannot shrink: for a realistic
      -- 100 KB message it spent about 3 ms of CPU per insert (four times the insert itself) and
      -- then stored the body as it was. Uncompressed (EXTERNAL) storage skips that; bodies of up
      -- to 8 KB stay in the row itself instead of the TOAST table. Rows written before keep
      -- their form; both read the same.
      ALTER TABLE contents ALTER COLUMN body SET STORAGE EXTERNAL;
      ALTER TABLE contents SET (toast_tuple_target = 8160);
`;

/** Migration 16: what retention keeps about bodies to look at. */
export const retentionTables = `
      -- Retention used to delete unneeded contents with one statement over the whole table, every
      -- 15 minutes, in a transaction that held back every subscriber of the log while it ran. Now
      -- a body is looked at only when it may have become unneeded: when a message using it expires
      -- (a candidate, below), and once about a day after it was written (an orphan: content whose
      -- message was never appended). Both in short batches.
      CREATE TABLE content_release_candidates (
        sha256      text PRIMARY KEY,
        check_after timestamptz NOT NULL
      );
      CREATE INDEX content_release_candidates_due ON content_release_candidates (check_after);
      -- how far the orphan sweep has come, in (created_at, sha256) order
      CREATE TABLE retention_progress (
        name       text PRIMARY KEY,
        created_at timestamptz NOT NULL,
        sha256     text NOT NULL
      );
`;

/** Migration 17: bodies in created_at order (the orphan sweep), built concurrently. */
export const contentsCreatedIndex: ConcurrentIndex = {
  name: 'contents_created',
  table: 'contents',
  definition: '(created_at, sha256)',
};
