import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface MariaDb {
  port: number;
  /** mysql://… for a database of this server (any user and password: grants are skipped). */
  url(database: string): string;
  /** Runs SQL text (several statements allowed), e.g. a fixture file. */
  execute(sql: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private MariaDB (Debian's mariadb-server binaries) in a temp dir on a free loopback port,
 * without grant tables (any login works: it listens on 127.0.0.1 for one test). Start-up is
 * bounded; stop() ends it and removes its files.
 */
export async function startMariaDb(timeoutMs = 60_000): Promise<MariaDb> {
  const dir = mkdtempSync(join(tmpdir(), 'postlog-mariadb-'));
  chmodSync(dir, 0o755);
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  await run(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${join(dir, 'data')}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...asRoot,
    ],
    { timeout: timeoutMs },
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${join(dir, 'data')}`,
      `--socket=${join(dir, 'sock')}`,
      `--pid-file=${join(dir, 'pid')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--skip-grant-tables',
      '--skip-log-bin',
      ...asRoot,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const url = (database: string) => `mysql://postal:secret@127.0.0.1:${port}/${database}`;
  const stop = async () => {
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone) {
      await stop();
      throw new Error(`mariadbd exited during start-up:\n${log}`);
    }
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      await c.end();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`mariadbd did not accept connections in ${timeoutMs} ms:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    url,
    async execute(sql) {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', multipleStatements: true });
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    },
    stop,
  };
}
