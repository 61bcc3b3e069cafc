import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../../logging/index.js';
import { quoteIdent } from '../identifiers.js';
import { migrate } from '../migrate.js';
import type { Migration } from '../migration.js';
import { migrations as allMigrations } from '../migrations-list.js';
import {
  BackupEnd,
  BackupHeader,
  BackupSequence,
  BackupUnreadable,
  parseFrame,
  readFrames,
  type Frame,
} from './backup-file.js';
import { relationsInSchema } from './database-contents.js';
import { advanceTransactionIdsPast } from './transaction-ids.js';
import { renumberedCheckpoint, renumberLogTransactions } from '../../event-store/postgres/renumber-transactions.js';
import { rewriteCheckpoints } from '../../read-models/checkpoints.js';

const TableStart = BackupHeader.shape.tables.element.pick({ name: true });
const TableEnd = BackupEnd.pick({ rows: true });

export interface RestoreSummary {
  tables: number;
  rows: number;
  seconds: number;
  schemaVersion: number;
  /** Transaction ids the cluster used up so that the log's, numbered again, are in its past (transaction-ids.ts). */
  transactionIds: number;
  /** Migrations applied after the restore: the backup's schema was older than this Postlog's. */
  migrated: number[];
}

/** The restore target holds a database already: a restore only fills an empty one. */
export class RestoreTargetNotEmpty extends Error {
  readonly code = 'RESTORE_TARGET_NOT_EMPTY';
}

/** A backup of a schema newer than this Postlog knows. */
export class BackupTooNew extends Error {
  readonly code = 'BACKUP_TOO_NEW';
}

/** The frames of a backup file, decompressed as they are read. */
function framesOf(file: string): AsyncGenerator<Frame> {
  const gunzip = createGunzip();
  const input = createReadStream(file);
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  return readFrames(
    (async function* () {
      try {
        for await (const chunk of gunzip) yield chunk as Buffer;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (code.startsWith('Z_'))
          throw new BackupUnreadable(`not a Postlog backup, or damaged: ${(err as Error).message}`);
        throw err;
      }
    })(),
  );
}

/** The header of a backup file, read without reading the rest. */
export async function readBackupHeader(file: string): Promise<BackupHeader> {
  const frames = framesOf(file);
  try {
    const first = await frames.next();
    if (first.done || first.value.type !== 'H') throw new BackupUnreadable('damaged backup: it has no header');
    return parseFrame(first.value, BackupHeader);
  } finally {
    await frames.return(undefined);
  }
}

/**
 * Reads a backup through, checking that it is whole: a header first, every table started and ended, an end
 * whose counts match. A restore does this before it touches the database: a truncated copy of a backup is
 * refused while the target is still empty.
 */
export async function inspectBackup(file: string): Promise<{ header: BackupHeader; end: BackupEnd }> {
  let header: BackupHeader | undefined;
  let end: BackupEnd | undefined;
  let inTable = false;
  let tables = 0;
  let rows = 0;
  for await (const frame of framesOf(file)) {
    if (header === undefined && frame.type !== 'H') throw new BackupUnreadable('damaged backup: it has no header');
    if (end !== undefined) throw new BackupUnreadable('damaged backup: frames after its end');
    if (frame.type === 'H') header = parseFrame(frame, BackupHeader);
    else if (frame.type === 'T' || frame.type === 'E') {
      if (inTable === (frame.type === 'T')) throw new BackupUnreadable('damaged backup: tables overlap');
      inTable = frame.type === 'T';
      if (frame.type === 'E') {
        tables++;
        rows += parseFrame(frame, TableEnd).rows;
      }
    } else if (frame.type === 'D' && !inTable) throw new BackupUnreadable('damaged backup: data outside a table');
    else if (frame.type === 'Z') end = parseFrame(frame, BackupEnd);
  }
  if (header === undefined) throw new BackupUnreadable('damaged backup: it has no header');
  if (end === undefined) throw new BackupUnreadable('the backup is truncated: it has no end (was it copied whole?)');
  if (end.tables !== tables || end.rows !== rows || header.tables.length !== tables)
    throw new BackupUnreadable(`damaged backup: ${tables} tables with ${rows} rows, its end says ${end.rows}`);
  return { header, end };
}

/** Refuses a backup this Postlog cannot restore: one of a newer schema. */
export function checkRestorable(header: BackupHeader, migrations: Migration[] = allMigrations): void {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (header.schemaVersion > known)
    throw new BackupTooNew(
      `the backup is of schema version ${header.schemaVersion} (Postlog ${header.postlogVersion}), newer than this ` +
        `Postlog knows (${known}): restore it with Postlog ${header.postlogVersion} or newer`,
    );
}

/**
 * Restores a backup into an empty database: makes the schema the backup was taken at (its migrations), fills
 * every table and sets every sequence in one transaction (a damaged or truncated file commits nothing), then
 * applies the migrations that came after it.
 */
export async function restoreBackup(o: {
  pool: pg.Pool;
  file: string;
  /** Its header, when inspectBackup read it through already. */
  inspected?: BackupHeader;
  logger: Logger;
  migrations?: Migration[];
  progress?: (p: { table: string; tablesDone: number; tables: number; rows: number }) => void;
}): Promise<RestoreSummary> {
  const started = performance.now();
  const migrations = o.migrations ?? allMigrations;
  const header = o.inspected ?? (await inspectBackup(o.file)).header;
  checkRestorable(header, migrations);
  const present = await relationsInSchema(o.pool);
  if (present.length > 0)
    throw new RestoreTargetNotEmpty(
      `the target database is not empty (it has ${present.slice(0, 5).join(', ')}${present.length > 5 ? ', …' : ''}): ` +
        'restore into a new data directory (POSTLOG_DATA_DIR) or an empty database (POSTLOG_DATABASE_URL)',
    );
  const taken = new Set(header.migrations);
  await migrate(
    o.pool,
    o.logger,
    migrations.filter((m) => taken.has(m.version)),
  );

  const client = await o.pool.connect();
  let failed: Error | undefined;
  let rows = 0;
  let transactionIds = 0;
  try {
    await client.query('BEGIN');
    // rows the migrations made (defaults, seeds) are in the backup as they were then
    await client.query(`TRUNCATE ${header.tables.map((t) => quoteIdent(t.name)).join(', ')}`);
    const frames = framesOf(o.file);
    let ended: BackupEnd | undefined;
    let copy: (Writable & { rowCount: number }) | undefined;
    let copyDone: Promise<unknown> | undefined;
    let table = '';
    let tablesDone = 0;
    for await (const frame of frames) {
      if (frame.type === 'T') {
        table = parseFrame(frame, TableStart).name;
        const columns = header.tables.find((t) => t.name === table)?.columns;
        if (!columns) throw new BackupUnreadable(`damaged backup: table ${table} is not in its header`);
        o.progress?.({ table, tablesDone, tables: header.tables.length, rows });
        copy = client.query(
          copyFrom(`COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) FROM STDIN (FORMAT binary)`),
        );
        copyDone = once(copy, 'finish');
        // awaited below; a COPY that fails meanwhile must not be an unhandled rejection
        copyDone.catch(() => undefined);
      } else if (frame.type === 'D') {
        if (!copy) throw new BackupUnreadable('damaged backup: data outside a table');
        if (!copy.write(frame.payload)) await Promise.race([once(copy, 'drain'), copyDone]);
      } else if (frame.type === 'E') {
        if (!copy) throw new BackupUnreadable('damaged backup: a table end outside a table');
        copy.end();
        await copyDone;
        const expected = parseFrame(frame, TableEnd).rows;
        if (copy.rowCount !== expected)
          throw new BackupUnreadable(`damaged backup: ${table} restored ${copy.rowCount} rows of ${expected}`);
        rows += expected;
        tablesDone++;
        copy = undefined;
      } else if (frame.type === 'S') {
        for (const s of parseFrame(frame, BackupSequence.array())) await setSequence(client, s, o.logger);
      } else if (frame.type === 'Z') {
        ended = parseFrame(frame, BackupEnd);
      }
    }
    if (!ended) throw new BackupUnreadable('the backup is truncated: it has no end (was it copied whole?)');
    if (ended.rows !== rows || ended.tables !== tablesDone)
      throw new BackupUnreadable(`damaged backup: ${tablesDone} tables with ${rows} rows, its end says ${ended.rows}`);
    // before the commit, on another connection: once committed, the log is readable in this cluster
    const logTransactions = await renumberLogTransactions(client);
    await rewriteCheckpoints(client, renumberedCheckpoint);
    transactionIds = await advanceTransactionIdsPast(o.pool, logTransactions + 2);
    await client.query('COMMIT');
  } catch (err) {
    failed = err as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(failed);
  }
  o.progress?.({ table: '', tablesDone: header.tables.length, tables: header.tables.length, rows });
  const report = await migrate(o.pool, o.logger, migrations);
  return {
    tables: header.tables.length,
    rows,
    seconds: (performance.now() - started) / 1000,
    schemaVersion: header.schemaVersion,
    transactionIds,
    migrated: report.applied,
  };
}

/** A sequence's value again; a serial or identity column's sequence is found by its column, whatever its name. */
async function setSequence(client: pg.PoolClient, s: BackupSequence, logger: Logger): Promise<void> {
  const owned =
    s.table !== null && s.column !== null
      ? (
          await client.query<{ name: string | null }>('SELECT pg_get_serial_sequence($1, $2) AS name', [
            quoteIdent(s.table),
            s.column,
          ])
        ).rows[0]?.name
      : null;
  const { rows } = await client.query<{ name: string | null }>('SELECT to_regclass($1)::text AS name', [
    owned ?? quoteIdent(s.name),
  ]);
  const target = rows[0]?.name;
  if (!target) {
    logger.warn({ sequence: s.name }, 'the backup has a sequence this schema does not: skipped');
    return;
  }
  await client.query('SELECT setval($1::regclass, $2::bigint, $3)', [target, s.lastValue, s.isCalled]);
}
