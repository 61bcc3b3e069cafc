import { createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { version } from '../../version.js';
import { quoteIdent } from '../identifiers.js';
import { FrameWriter, type BackupEnd, type BackupHeader } from './backup-file.js';
import { sequenceValues, tablesInOrder } from './database-contents.js';

export interface BackupProgress {
  table: string;
  tablesDone: number;
  tables: number;
  rows: number;
}

export interface BackupSummary {
  file: string;
  bytes: number;
  seconds: number;
  tables: number;
  rows: number;
  schemaVersion: number;
  postlogVersion: string;
  secretsKeyId: string | null;
}

/** A database without postlog_migrations: nothing of Postlog's to back up. */
export class NotAPostlogDatabase extends Error {
  readonly code = 'NOTHING_TO_BACK_UP';
}

/** COPY data is sent in frames of about this size (PostgreSQL's own messages are one row each). */
const FRAME_BYTES = 256 * 1024;

/**
 * Writes a backup of Postlog's whole schema to `out`: every table (the event log, message content, tenancy,
 * read models with their checkpoints, …) read in one REPEATABLE READ snapshot, so the read models and their
 * checkpoints match the log exactly, while Postlog goes on writing. The tables are locked in ACCESS SHARE
 * mode, as pg_dump does: only DDL (a projection rebuild's swap, a migration) waits for the backup. The file is
 * written aside and renamed into place when complete: a failed backup leaves no file that looks whole.
 */
export async function takeBackup(o: {
  pool: pg.Pool;
  database: 'embedded' | 'external';
  out: string;
  secretsKeyId: string | null;
  progress?: (p: BackupProgress) => void;
}): Promise<BackupSummary> {
  const started = performance.now();
  const partial = `${o.out}.partial`;
  const client = await o.pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // the snapshot is taken by this first query: the lists below and every table's rows are of one moment
    const { rows: hasLog } = await client.query<{ found: boolean }>(
      "SELECT to_regclass('postlog_migrations') IS NOT NULL AS found",
    );
    if (!hasLog[0]?.found) throw new NotAPostlogDatabase('this database has no Postlog schema (no postlog_migrations)');
    const tables = await tablesInOrder(client);
    await client.query("SET LOCAL lock_timeout = '60s'");
    for (const t of tables) await client.query(`LOCK TABLE ${quoteIdent(t.name)} IN ACCESS SHARE MODE`);
    const { rows: applied } = await client.query<{ version: number }>(
      'SELECT version FROM postlog_migrations ORDER BY version',
    );
    const { rows: server } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    const migrations = applied.map((r) => Number(r.version));
    const header: BackupHeader = {
      format: 'postlog-backup',
      formatVersion: 1,
      postlogVersion: version,
      schemaVersion: Math.max(0, ...migrations),
      migrations,
      createdAt: new Date().toISOString(),
      database: o.database,
      serverVersion: server[0]!.v,
      secretsKey: { included: false, keyId: o.secretsKeyId },
      tables,
    };

    const gzip = createGzip({ level: 6 });
    const written = pipeline(gzip, createWriteStream(partial, { mode: 0o600 }));
    // a failed write ends the copy below at its next wait for 'drain', not never
    written.catch((err: Error) => gzip.destroy(err));
    const frames = new FrameWriter(gzip);
    await frames.magic();
    await frames.json('H', header);
    let totalRows = 0;
    for (const [i, t] of tables.entries()) {
      o.progress?.({ table: t.name, tablesDone: i, tables: tables.length, rows: totalRows });
      await frames.json('T', { name: t.name });
      const columns = t.columns.map(quoteIdent).join(', ');
      const copy = client.query(
        copyTo(`COPY (SELECT ${columns} FROM ${quoteIdent(t.name)}) TO STDOUT (FORMAT binary)`),
      );
      let batch: Buffer[] = [];
      let batchBytes = 0;
      for await (const chunk of copy) {
        batch.push(chunk as Buffer);
        batchBytes += (chunk as Buffer).length;
        if (batchBytes < FRAME_BYTES) continue;
        await frames.write('D', Buffer.concat(batch, batchBytes));
        batch = [];
        batchBytes = 0;
      }
      if (batchBytes > 0) await frames.write('D', Buffer.concat(batch, batchBytes));
      const rows = copy.rowCount;
      totalRows += rows;
      await frames.json('E', { rows });
    }
    await frames.json('S', await sequenceValues(client));
    const end: BackupEnd = { tables: tables.length, rows: totalRows };
    await frames.json('Z', end);
    gzip.end();
    await written;
    await client.query('COMMIT');
    renameSync(partial, o.out);
    o.progress?.({ table: '', tablesDone: tables.length, tables: tables.length, rows: totalRows });
    return {
      file: o.out,
      bytes: statSync(o.out).size,
      seconds: (performance.now() - started) / 1000,
      tables: tables.length,
      rows: totalRows,
      schemaVersion: header.schemaVersion,
      postlogVersion: version,
      secretsKeyId: o.secretsKeyId,
    };
  } catch (err) {
    failed = err as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    rmSync(partial, { force: true });
    throw err;
  } finally {
    // a connection that failed mid-COPY is not given back for reuse
    client.release(failed);
  }
}
