import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../infra/config/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { Database } from '../../infra/postgres/index.js';
import {
  checkRestorable,
  inspectBackup,
  restoreBackup,
  takeBackup,
  type BackupProgress,
} from '../../infra/postgres/backup/index.js';
import { isSecretsKey, SECRETS_KEY_FILE, secretKeyId } from '../../infra/secrets/index.js';
import { cliError } from './errors.js';
import { printJson } from './output.js';

/** Runs a command against the database of the configuration (embedded or external), without migrating it. */
export type WithRawDatabase = <T>(work: (db: Database, config: Config, logger: Logger) => Promise<T>) => Promise<T>;

/**
 * `postlog backup` and `postlog restore` (docs/operations.md, Backups). The secrets key is never in the file:
 * whoever can read a backup must not be able to open the secrets sealed in it. The file names the key's id,
 * and both commands say where the key is, to be kept with the backup, apart from it.
 */
export function registerBackupCommands(program: Command, withDatabase: WithRawDatabase): void {
  program
    .command('backup')
    .description(
      "write a consistent snapshot of Postlog's database (log, content, tenancy, read models, checkpoints) to a " +
        'file, while Postlog runs; the secrets key is not in it',
    )
    .requiredOption('--out <file>', 'the backup file to write (it must not exist)')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { out: string; json?: boolean }) => {
      if (existsSync(opts.out)) cliError('BACKUP_FILE_EXISTS', `${opts.out} exists: give a new file name`);
      await withDatabase(async (db, config) => {
        const key = secretsKeyOf(config);
        const summary = await takeBackup({
          pool: db.pool,
          database: db.kind,
          out: opts.out,
          secretsKeyId: key.id,
          progress: progressLine('backup'),
        });
        if (opts.json) return printJson({ ...summary, secretsKey: { included: false, ...key } });
        process.stdout.write(
          `backup written to ${summary.file}: ${summary.tables} tables, ${summary.rows} rows, ` +
            `${megabytes(summary.bytes)} in ${summary.seconds.toFixed(1)} s ` +
            `(schema version ${summary.schemaVersion}, Postlog ${summary.postlogVersion})\n` +
            `${keyAdvice(key)}\n`,
        );
      });
    });

  program
    .command('restore <file>')
    .description(
      'restore a backup into an empty data directory (POSTLOG_DATA_DIR) or an empty external database ' +
        '(POSTLOG_DATABASE_URL), then apply newer migrations; postlog start works on it afterwards',
    )
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      if (!existsSync(file)) cliError('BACKUP_UNREADABLE', `no file ${file}`);
      // refused before a database is made for it: a newer schema, a damaged or truncated file
      const { header } = await inspectBackup(file);
      checkRestorable(header);
      await withDatabase(async (db, config, logger) => {
        const summary = await restoreBackup({
          pool: db.pool,
          file,
          inspected: header,
          logger,
          progress: progressLine('restore'),
        });
        const key = secretsKeyOf(config);
        const keyMatches = header.secretsKey.keyId === null || header.secretsKey.keyId === key.id;
        if (opts.json) return printJson({ ...summary, secretsKey: { backup: header.secretsKey.keyId, ...key } });
        process.stdout.write(
          `restored ${summary.tables} tables, ${summary.rows} rows of a backup of ${header.createdAt} ` +
            `(schema version ${summary.schemaVersion}, Postlog ${header.postlogVersion}) in ` +
            `${summary.seconds.toFixed(1)} s` +
            `${summary.migrated.length > 0 ? `; then applied migrations ${summary.migrated.join(', ')}` : ''}\n` +
            (keyMatches
              ? ''
              : `the backup's secrets were sealed with key ${header.secretsKey.keyId}; ` +
                `${key.id === null ? 'no key is here yet' : `the key here is ${key.id}`}: ` +
                `put the backed-up key in ${key.where} before postlog start, or its sealed secrets do not open\n`),
        );
      });
    });
}

/** The secrets key of the configuration, by id, and where it is: read, never made (postlog start makes it). */
function secretsKeyOf(config: Config): { id: string | null; where: string } {
  if (config.secretsKey !== undefined)
    return { id: secretKeyId(Buffer.from(config.secretsKey.trim(), 'base64')), where: 'POSTLOG_SECRETS_KEY' };
  const path = join(resolve(config.dataDir), SECRETS_KEY_FILE);
  // the file's first line is the sealing key; older keys after it only open (postlog secrets rotate)
  const text = existsSync(path)
    ? (readFileSync(path, 'utf8')
        .split('\n')
        .find((l) => l.trim() !== '') ?? '')
    : '';
  return { id: isSecretsKey(text) ? secretKeyId(Buffer.from(text.trim(), 'base64')) : null, where: path };
}

function keyAdvice(key: { id: string | null; where: string }): string {
  return key.id === null
    ? 'the secrets key is not in the backup (there is none yet)'
    : `the secrets key (id ${key.id}) is not in the backup: keep a copy of ${key.where} with it, stored apart`;
}

const megabytes = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

/** On a terminal one line, rewritten per table; otherwise a line every few seconds (logs stay short). */
function progressLine(verb: string): (p: BackupProgress) => void {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return (p) => {
    const done = p.table === '';
    const text = `${verb}: ${done ? 'done' : `table ${p.tablesDone + 1} of ${p.tables} (${p.table})`}, ${p.rows} rows`;
    if (tty) return void process.stderr.write(`\r${text.padEnd(78)}${done ? '\n' : ''}`);
    if (done || Date.now() - last < 2000) return;
    last = Date.now();
    process.stderr.write(`${text}\n`);
  };
}
