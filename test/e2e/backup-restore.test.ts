import assert from 'node:assert/strict';
import { copyFileSync, createWriteStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, describe, it } from 'node:test';
import { createGzip, gunzipSync } from 'node:zlib';
import { migrate, migrations } from '../../infra/postgres/index.js';
import { FrameWriter } from '../../infra/postgres/backup/backup-file.js';
import { readBackupHeader } from '../../infra/postgres/backup/index.js';
import { SECRETS_KEY_FILE } from '../../infra/secrets/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from '../helpers/database.js';
import { eventually } from '../helpers/eventually.js';
import {
  baseEnv,
  runCli,
  startPostlogProcess,
  stopLeftoverPostlogProcesses,
  tempDataDir,
} from '../helpers/postlog-process.js';

/** Clients sending over HTTP all the time; every acknowledged (202) id in the order acknowledged. */
function startSenders(url: string, apiKey: string, concurrency: number) {
  const acknowledged: string[] = [];
  const failures: string[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async (_, worker) => {
    for (let n = 0; running; n++) {
      try {
        const res = await fetch(`${url}/v2/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-server-api-key': apiKey },
          body: JSON.stringify({
            from: 'app@sender.test',
            to: [`w${worker}n${n}@rcpt.test`],
            subject: 'during a backup',
            text: `message ${n} of sender ${worker}`,
          }),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await res.json()) as { messages?: { id: string }[] };
        if (res.status === 202) acknowledged.push(...body.messages!.map((m) => m.id));
        else failures.push(`${res.status} ${JSON.stringify(body)}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  return {
    acknowledged,
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function history(url: string, apiKey: string, id: string): Promise<{ status: number; events: unknown[] }> {
  const res = await fetch(`${url}/v2/messages/${id}/history`, { headers: { 'x-server-api-key': apiKey } });
  const body = (await res.json()) as { events?: unknown[] };
  return { status: res.status, events: body.events ?? [] };
}

/** Runs `postlog <args>`, which must succeed; its stdout. */
async function cli(args: string[], env: Record<string, string>): Promise<string> {
  const result = await runCli(args, env);
  assert.equal(result.code, 0, `postlog ${args.join(' ')}: ${result.stderr}\n${result.stdout.slice(0, 4000)}`);
  return result.stdout;
}

/** A backup file as `postlog backup` writes it, made by hand: for files it would never write. */
async function writeBackupFile(file: string, header: unknown, end?: unknown): Promise<void> {
  const gzip = createGzip();
  const written = pipeline(gzip, createWriteStream(file));
  const frames = new FrameWriter(gzip);
  await frames.magic();
  await frames.json('H', header);
  if (end) await frames.json('Z', end);
  gzip.end();
  await written;
}

describe('postlog backup and restore', () => {
  const databases: TestDatabase[] = [];
  after(async () => {
    await stopLeftoverPostlogProcesses();
    for (const db of databases) await db.drop();
  });

  it('backs up the embedded PostgreSQL under load; the restore has every message with an identical history, and verified projections', async () => {
    const dataDir = tempDataDir('postlog-backup-');
    // the log's writers: the API taking mail, the MTA deferring it (no resolver), the projector
    const env = await baseEnv(dataDir, { POSTLOG_PROCESSES: '1' });
    const postlog = await startPostlogProcess(env);
    const init = JSON.parse(await cli(['init', '--json'], env)) as { serverId: string; apiKey: string };
    await cli(['domain', 'add', 'sender.test', '--server', init.serverId, '--verified', '--json'], env);

    const file = join(tempDataDir('postlog-backup-file-'), 'postlog.backup');
    const senders = startSenders(postlog.url, init.apiKey, 3);
    let before = 0;
    let during = 0;
    let backupOutput: string;
    try {
      await eventually(
        async () => (senders.acknowledged.length >= 30 ? true : undefined),
        () => `acknowledged ${senders.acknowledged.length}; failures: ${senders.failures.slice(-3).join(', ')}`,
      );
      before = senders.acknowledged.length;
      const backup = await runCli(['backup', '--out', file], { ...env, POSTLOG_LOG_LEVEL: 'warn' });
      during = senders.acknowledged.length - before;
      assert.equal(backup.code, 0, backup.stderr);
      backupOutput = backup.stdout;
    } finally {
      await senders.stop();
    }
    assert.ok(during > 0, 'mail was acknowledged while the backup ran');
    assert.deepEqual(senders.failures, []);
    assert.match(
      backupOutput,
      /^backup written to .*: \d+ tables, \d+ rows, [\d.]+ MB in [\d.]+ s \(schema version \d+, Postlog [\d.]+\)\n/,
    );
    assert.match(backupOutput, /the secrets key \(id \w+\) is not in the backup: keep a copy of .*secrets\.key/);
    const header = await readBackupHeader(file);
    assert.equal(header.schemaVersion, Math.max(...migrations.map((m) => m.version)));
    assert.equal(header.database, 'embedded');
    assert.deepEqual(header.secretsKey.included, false);
    // the key is nowhere in the file
    const key = readFileSync(join(dataDir, SECRETS_KEY_FILE), 'utf8').trim();
    assert.ok(!gunzipSync(readFileSync(file)).includes(key) && statSync(file).size > 0);

    // a backup never overwrites a file
    const again = await runCli(['backup', '--out', file], env);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /^error BACKUP_FILE_EXISTS: /);
    // a restore into a data dir in use is refused
    const intoRunning = await runCli(['restore', file], env);
    assert.equal(intoRunning.code, 1, intoRunning.stderr);
    assert.match(intoRunning.stderr, /^error RESTORE_TARGET_NOT_EMPTY: the target database is not empty/m);

    // restored elsewhere, with the key kept beside the backup
    const restoredDir = tempDataDir('postlog-restored-');
    copyFileSync(join(dataDir, SECRETS_KEY_FILE), join(restoredDir, SECRETS_KEY_FILE));
    // the restored Postlog does not deliver: its histories stay as the backup has them
    const restoredEnv = await baseEnv(restoredDir, { POSTLOG_PROCESSES: '1', POSTLOG_ROLES: 'api,projector' });
    const restored = await cli(['restore', file], restoredEnv);
    assert.match(restored, /^restored \d+ tables, \d+ rows of a backup of /);
    assert.doesNotMatch(restored, /sealed with key/, 'the same secrets key');
    // the read models and checkpoints are of the log's moment: equal to a rebuild before anything ran
    const verified = await cli(['projections', 'verify'], restoredEnv);
    assert.doesNotMatch(verified, /DIFFERENT/);
    const again2 = await runCli(['restore', file], restoredEnv);
    assert.equal(again2.code, 1, again2.stderr);
    assert.match(again2.stderr, /^error RESTORE_TARGET_NOT_EMPTY: /m);

    const copy = await startPostlogProcess(restoredEnv);
    // compared with the original: every event the backup has, at the same revision, is the same (ids,
    // types, data, times); the original goes on deferring (no resolver), so its history may be longer
    let inBackup = 0;
    const differences: string[] = [];
    for (const [i, id] of senders.acknowledged.entries()) {
      const b = await history(copy.url, init.apiKey, id);
      if (b.status === 404 && i >= before) continue; // acknowledged after the snapshot
      if (b.status !== 200 || b.events.length === 0) {
        differences.push(`${id}: ${b.status} in the restore`);
        continue;
      }
      inBackup++;
      const a = await history(postlog.url, init.apiKey, id);
      try {
        assert.deepEqual(b.events, a.events.slice(0, b.events.length));
      } catch (err) {
        differences.push(`${id}: ${(err as Error).message.slice(0, 600)}`);
      }
    }
    assert.deepEqual(differences, []);
    assert.ok(inBackup >= before, `${inBackup} messages in the backup, ${before} acknowledged before it began`);
    // the restored Postlog takes mail
    const sent = await fetch(`${copy.url}/v2/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-server-api-key': init.apiKey },
      body: JSON.stringify({ from: 'app@sender.test', to: ['after@rcpt.test'], subject: 'after', text: 'x' }),
    });
    assert.equal(sent.status, 202);
    // and its projector reads the log past the restored events: the new message reaches the read model
    const newId = ((await sent.json()) as { messages: { id: string }[] }).messages[0]!.id;
    await eventually(
      async () => {
        const res = await fetch(`${copy.url}/v2/messages?limit=5`, { headers: { 'x-server-api-key': init.apiKey } });
        const listed = ((await res.json()) as { messages?: { id: string }[] }).messages ?? [];
        return listed.some((m) => m.id === newId) ? true : undefined;
      },
      () => `${newId} is not in the restored Postlog's message list`,
    );
    assert.doesNotMatch(await cli(['projections', 'verify'], restoredEnv), /DIFFERENT/);

    for (const p of [copy, postlog]) {
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.output().split('\n').slice(-20).join('\n'));
    }
  });

  it('backs up an external PostgreSQL and restores an older backup into an empty one, migrating it', async () => {
    const source = await createTestDatabase({ migrate: false });
    const target = await createTestDatabase({ migrate: false });
    databases.push(source, target);
    // the schema one migration behind this Postlog's: the restore applies the rest
    const older = [...migrations].sort((a, b) => a.version - b.version).slice(0, -1);
    await migrate(source.pool, testLogger, older);
    const sourceEnv = await baseEnv(tempDataDir(), { POSTLOG_DATABASE_URL: source.url });
    const targetEnv = await baseEnv(tempDataDir(), { POSTLOG_DATABASE_URL: target.url });
    // init migrates: done through the tenancy store by hand here, so the schema stays older
    await source.pool.query("INSERT INTO organizations (id, name) VALUES (gen_random_uuid(), 'Kept')");

    const file = join(tempDataDir('postlog-backup-file-'), 'external.backup');
    await cli(['backup', '--out', file], sourceEnv);
    const header = await readBackupHeader(file);
    assert.equal(header.database, 'external');
    assert.equal(header.schemaVersion, older.at(-1)!.version);

    const restored = await cli(['restore', file], targetEnv);
    assert.match(restored, new RegExp(`then applied migrations ${migrations.at(-1)!.version}\\n`));
    const { rows } = await target.pool.query<{ name: string }>('SELECT name FROM organizations');
    assert.deepEqual(
      rows.map((r) => r.name),
      ['Kept'],
    );
    const { rows: versions } = await target.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM postlog_migrations',
    );
    assert.equal(versions[0]!.n, migrations.length);
    assert.doesNotMatch(await cli(['projections', 'verify'], targetEnv), /DIFFERENT/);

    // a database with tables is not a restore target
    const refused = await runCli(['restore', file], sourceEnv);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error RESTORE_TARGET_NOT_EMPTY: /m);
  });

  it('refuses a backup of a newer schema, and a damaged or truncated one, before it makes a database', async () => {
    const dir = tempDataDir('postlog-backup-files-');
    const good = join(dir, 'good.backup');
    const source = await createTestDatabase();
    databases.push(source);
    const env = await baseEnv(tempDataDir(), { POSTLOG_DATABASE_URL: source.url });
    await cli(['backup', '--out', good], env);
    const header = await readBackupHeader(good);

    const newer = join(dir, 'newer.backup');
    await writeBackupFile(
      newer,
      { ...header, schemaVersion: header.schemaVersion + 1, tables: [] },
      { tables: 0, rows: 0 },
    );
    const truncated = join(dir, 'truncated.backup');
    const bytes = readFileSync(good);
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const notABackup = join(dir, 'notes.txt');
    writeFileSync(notABackup, 'hello');
    const noEnd = join(dir, 'no-end.backup');
    await writeBackupFile(noEnd, header);

    const cases: [string, RegExp][] = [
      [newer, /^error BACKUP_TOO_NEW: the backup is of schema version \d+ \(Postlog [\d.]+\), newer than this/],
      [truncated, /^error BACKUP_UNREADABLE: /],
      [notABackup, /^error BACKUP_UNREADABLE: not a Postlog backup/],
      [noEnd, /^error BACKUP_UNREADABLE: the backup is truncated: it has no end/],
      [join(dir, 'missing.backup'), /^error BACKUP_UNREADABLE: no file /],
    ];
    for (const [file, expected] of cases) {
      const target = tempDataDir('postlog-refused-');
      const res = await runCli(['restore', file], await baseEnv(target));
      assert.equal(res.code, 1, `${file}: ${res.stderr}`);
      assert.match(res.stderr, expected);
      assert.equal(existsSync(join(target, 'pg')), false, 'no database was made');
    }
  });
});
