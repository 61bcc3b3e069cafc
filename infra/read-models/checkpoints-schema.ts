/**
 * Where each projection stands in the log (projections/runner.ts and projections/maintenance.ts;
 * their statements are in checkpoints.ts).
 * Owned here rather than next to the runner: the migration list is in infra/, which may not import
 * projections/ (the same holds for the other read models in this folder).
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 3: a checkpoint per projection. */
export const projectionCheckpointsTable = `
      CREATE TABLE projection_checkpoints (
        name        text PRIMARY KEY,
        version     integer NOT NULL,
        checkpoint  text NOT NULL,
        position    bigint,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        last_error  text,
        error_at    timestamptz
      );
`;
