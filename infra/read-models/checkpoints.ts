import type pg from 'pg';

/**
 * The statements on the projections' checkpoints (checkpoints-schema.ts): the runner moves them
 * (projections/runner.ts), rebuild, verify and the status report read and set them
 * (projections/maintenance.ts). Each runs on the connection it is given, so that it joins that
 * connection's transaction: a checkpoint moves with the rows its batch wrote.
 */

/** A projection's checkpoint row, as the status report reads it. */
export interface CheckpointRow {
  version: number;
  checkpoint: string;
  position: number | null;
  updated_at: Date | null;
  last_error: string | null;
  error_at: Date | null;
}

/** The version and checkpoint a projection stands at, locked until the transaction ends (undefined: never ran). */
export async function lockCheckpointAndVersion(
  client: pg.ClientBase,
  name: string,
): Promise<{ version: number; checkpoint: string } | undefined> {
  const { rows } = await client.query<{ version: number; checkpoint: string }>(
    'SELECT version, checkpoint FROM projection_checkpoints WHERE name = $1 FOR UPDATE',
    [name],
  );
  return rows[0];
}

/** The checkpoint a projection stands at, locked until the transaction ends (undefined: never ran). */
export async function lockCheckpoint(client: pg.ClientBase, name: string): Promise<string | undefined> {
  const { rows } = await client.query<{ checkpoint: string }>(
    'SELECT checkpoint FROM projection_checkpoints WHERE name = $1 FOR UPDATE',
    [name],
  );
  return rows[0]?.checkpoint;
}

/** The checkpoint a projection stands at (undefined: never ran). */
export async function readCheckpoint(db: pg.Pool | pg.ClientBase, name: string): Promise<string | undefined> {
  const { rows } = await db.query<{ checkpoint: string }>(
    'SELECT checkpoint FROM projection_checkpoints WHERE name = $1',
    [name],
  );
  return rows[0]?.checkpoint;
}

/** A projection starts over at `version` from `checkpoint` (the start of the log): no position yet, no error. */
export async function restartCheckpoint(
  client: pg.ClientBase,
  name: string,
  version: number,
  checkpoint: string,
): Promise<void> {
  await client.query(
    `INSERT INTO projection_checkpoints (name, version, checkpoint) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, checkpoint = excluded.checkpoint, position = NULL, last_error = NULL, updated_at = now()`,
    [name, version, checkpoint],
  );
}

/** Where a rebuilt projection stands once its tables took the live names. */
export async function saveRebuiltCheckpoint(
  client: pg.ClientBase,
  name: string,
  version: number,
  checkpoint: string,
  position: number | null,
): Promise<void> {
  await client.query(
    `INSERT INTO projection_checkpoints (name, version, checkpoint, position) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET version = excluded.version, checkpoint = excluded.checkpoint, position = excluded.position, last_error = NULL, updated_at = now()`,
    [name, version, checkpoint, position],
  );
}

/**
 * Moves a projection's checkpoint from `from` to `to` and clears its error. False when it was no
 * longer at `from`: another runner moved it (the caller lost leadership and must write nothing).
 */
export async function moveCheckpoint(
  client: pg.ClientBase,
  name: string,
  from: string,
  to: { checkpoint: string; position: number },
): Promise<boolean> {
  const moved = await client.query(
    'UPDATE projection_checkpoints SET checkpoint = $2, position = $3, updated_at = now(), last_error = NULL WHERE name = $1 AND checkpoint = $4',
    [name, to.checkpoint, to.position, from],
  );
  return moved.rowCount === 1;
}

/** Records why a projection's batch failed (the first 2000 characters), for the status report. */
export async function recordProjectionError(pool: pg.Pool, name: string, message: string): Promise<void> {
  await pool.query('UPDATE projection_checkpoints SET last_error = $2, error_at = now() WHERE name = $1', [
    name,
    message.slice(0, 2000),
  ]);
}

/** Every projection's checkpoint row, by name. */
export async function checkpointRows(pool: pg.Pool): Promise<Map<string, CheckpointRow>> {
  const { rows } = await pool.query<CheckpointRow & { name: string }>(
    'SELECT name, version, checkpoint, position, updated_at, last_error, error_at FROM projection_checkpoints',
  );
  return new Map(rows.map((r) => [r.name, r]));
}

/**
 * After a restore into another cluster, every checkpoint through `renumbered`: SQL from the log's adapter for
 * a checkpoint in the given column (infra/event-store/postgres/renumber-transactions.ts).
 */
export async function rewriteCheckpoints(client: pg.ClientBase, renumbered: (column: string) => string): Promise<void> {
  await client.query(`UPDATE projection_checkpoints SET checkpoint = ${renumbered('checkpoint')}`);
}
