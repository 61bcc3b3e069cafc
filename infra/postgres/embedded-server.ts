import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from '../logging/index.js';
import { embeddedPostgresBinaries } from './embedded-binaries.js';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  logger: Logger;
  /** How long to wait for the server to accept connections. */
  startTimeoutMs?: number;
}

interface Secrets {
  user: string;
  password: string;
}

/**
 * Runs the embedded PostgreSQL server in `<dataDir>/pg`.
 *
 * - initialised on first use, reused afterwards;
 * - started in its own process group, so a Ctrl-C in the terminal reaches Postlog only and
 *   Postlog decides when the database stops (after in-flight appends are committed);
 * - several Postlog processes on one data dir share one server: the first one owns it, the
 *   others connect as guests (e.g. the CLI while `postlog start` runs);
 * - a stale postmaster.pid (server gone) is removed, and a server orphaned by a crashed owner
 *   is adopted, so a crash never blocks the next start;
 * - as root, the server runs as the `postgres` user (created if missing), since PostgreSQL
 *   refuses to run as root.
 */
export class EmbeddedPostgres {
  private readonly pgDir: string;
  private readonly ownerFile: string;
  private readonly secretsFile: string;
  private ownedPid: number | undefined;
  private url: string | undefined;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    const dataDir = resolve(options.dataDir);
    this.pgDir = join(dataDir, 'pg');
    this.ownerFile = join(dataDir, 'embedded-pg.owner');
    this.secretsFile = join(dataDir, 'embedded-pg.json');
  }

  get connectionString(): string {
    if (this.url === undefined) throw new Error('embedded PostgreSQL is not started');
    return this.url;
  }

  get owned(): boolean {
    return this.ownedPid !== undefined;
  }

  /** Starts the server, or joins the one another Postlog process runs. Returns a connection URL. */
  async start(): Promise<string> {
    const log = this.options.logger;
    mkdirSync(dirname(this.pgDir), { recursive: true, mode: 0o755 });
    const running = this.runningServer();
    if (running !== undefined) {
      const owner = readPid(this.ownerFile);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
        log.info({ pgPid: running.pid, port: running.port, ownerPid: owner }, 'using the embedded PostgreSQL run by another Postlog process');
        this.url = this.urlFor(running.port, running.socketDirectory);
        return this.url;
      }
      log.warn({ pgPid: running.pid, port: running.port }, 'adopting an embedded PostgreSQL left running by a Postlog process that exited without stopping it');
      this.ownedPid = running.pid;
      writeFileSync(this.ownerFile, `${process.pid}\n`);
      this.url = this.urlFor(running.port, running.socketDirectory);
      await this.waitUntilReady(this.url, () => isAlive(running.pid), () => 'adopted server did not accept connections');
      return this.url;
    }

    const bins = await embeddedPostgresBinaries();
    const account = postgresAccount();
    if (!existsSync(join(this.pgDir, 'PG_VERSION'))) await this.initialise(bins.initdb, account);

    const socketDirectory = socketDirectoryFor(this.pgDir, this.options.port);
    const logFile = join(dirname(this.pgDir), 'postgres.log');
    const fd = openSync(logFile, 'a');
    const child = spawn(
      bins.postgres,
      [
        '-D', this.pgDir,
        '-p', String(this.options.port),
        '-c', 'listen_addresses=127.0.0.1',
        // Postlog connects over a Unix socket in the cluster's own directory (its default directory,
        // /var/run/postgresql, is often not writable); TCP stays open for psql and other tools.
        '-c', `unix_socket_directories=${quotedDirectory(socketDirectory)}`,
        '-c', 'max_connections=300',
        '-c', 'shared_buffers=256MB',
        '-c', 'wal_buffers=16MB',
        '-c', 'max_wal_size=2GB',
        '-c', 'logging_collector=off',
        '-c', 'log_min_messages=warning',
      ],
      { detached: true, stdio: ['ignore', fd, fd], ...account },
    );
    closeSync(fd);
    let exited = false;
    child.once('exit', () => (exited = true));
    child.unref();
    if (child.pid === undefined) throw new Error('could not spawn the embedded PostgreSQL server');
    this.ownedPid = child.pid;
    writeFileSync(this.ownerFile, `${process.pid}\n`);
    this.url = this.urlFor(this.options.port, socketDirectory);
    await this.waitUntilReady(this.url, () => !exited, () => {
      this.ownedPid = undefined;
      return `the embedded PostgreSQL server exited during start-up. Last lines of ${logFile}:\n${tail(logFile, 15)}` +
        (/could not bind|Address already in use/.test(tail(logFile, 15)) ? `\nPort ${this.options.port} is taken: set POSTLOG_EMBEDDED_PG_PORT to a free port.` : '');
    });
    log.info({ port: this.options.port, dir: this.pgDir, pgPid: child.pid, via: socketDirectory ? 'unix socket' : 'tcp' }, 'embedded PostgreSQL started');
    if (!socketDirectory) log.info({ dir: this.pgDir }, 'the data dir path is too long for a Unix socket (107 bytes): Postlog connects over TCP, which costs a little more CPU');
    return this.url;
  }

  /** Fast shutdown of the server if this process owns it; guests leave it running. */
  async stop(): Promise<void> {
    const pid = this.ownedPid;
    if (pid === undefined) return;
    this.ownedPid = undefined;
    try {
      process.kill(pid, 'SIGINT'); // PostgreSQL "fast" shutdown: clean, aborts open sessions.
    } catch {
      return;
    }
    const deadline = Date.now() + 30_000;
    while (isAlive(pid) && Date.now() < deadline) await sleep(50);
    if (isAlive(pid)) process.kill(pid, 'SIGQUIT');
    if (readPid(this.ownerFile) === process.pid) rmSync(this.ownerFile, { force: true });
    this.options.logger.info('embedded PostgreSQL stopped');
  }

  private async initialise(initdb: string, account: { uid?: number; gid?: number }): Promise<void> {
    const log = this.options.logger;
    log.info({ dir: this.pgDir }, 'initialising the embedded PostgreSQL cluster (first start)');
    const secrets: Secrets = { user: 'postlog', password: randomBytes(18).toString('base64url') };
    rmSync(this.pgDir, { recursive: true, force: true });
    mkdirSync(this.pgDir, { recursive: true, mode: 0o700 });
    if (account.uid !== undefined) {
      assertTraversable(this.pgDir, account.uid);
      chownSync(this.pgDir, account.uid, account.gid!);
    }
    const pwFile = join(tmpdir(), `postlog-pw-${randomBytes(6).toString('hex')}`);
    writeFileSync(pwFile, secrets.password + '\n', { mode: 0o644 });
    try {
      execFileSync(
        initdb,
        [`--pgdata=${this.pgDir}`, '--auth=scram-sha-256', `--username=${secrets.user}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C'],
        { ...account, stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new Error(`initdb failed: ${e.stderr?.toString() || e.message}`);
    } finally {
      rmSync(pwFile, { force: true });
    }
    writeFileSync(this.secretsFile, JSON.stringify(secrets), { mode: 0o600 });
  }

  /**
   * A Unix socket when the server has one: a small query costs its two ends about a third less CPU
   * than over loopback TCP, and the delivery path is many small queries.
   */
  private urlFor(port: number, socketDirectory: string | undefined): string {
    const secrets = JSON.parse(readFileSync(this.secretsFile, 'utf8')) as Secrets;
    const host = socketDirectory ? encodeURIComponent(socketDirectory) : '127.0.0.1';
    return `postgres://${encodeURIComponent(secrets.user)}:${encodeURIComponent(secrets.password)}@${host}:${port}/postgres`;
  }

  /** The server described by postmaster.pid, if its process is alive; removes a stale file. */
  private runningServer(): { pid: number; port: number; socketDirectory: string | undefined } | undefined {
    const lockFile = join(this.pgDir, 'postmaster.pid');
    if (!existsSync(lockFile)) return undefined;
    const lines = readFileSync(lockFile, 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    // line 5 names the server's first Unix socket directory; empty when it listens on TCP only
    const socketDirectory = lines[4]?.trim() || undefined;
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && isPostgres(pid)) return { pid, port, socketDirectory };
    this.options.logger.warn({ lockFile }, 'removing a stale PostgreSQL lock file left by a crash');
    rmSync(lockFile, { force: true });
    return undefined;
  }

  private async waitUntilReady(url: string, alive: () => boolean, failure: () => string): Promise<void> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
    let lastError = '';
    while (Date.now() < deadline) {
      if (!alive()) throw new Error(failure());
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.query('select 1');
        return;
      } catch (err) {
        lastError = (err as Error).message;
      } finally {
        await client.end().catch(() => undefined);
      }
      await sleep(50);
    }
    throw new Error(`the embedded PostgreSQL server did not accept connections in time: ${lastError}`);
  }
}

/** PostgreSQL refuses to run as root; as root we run it as `postgres`, creating that user if needed. */
function postgresAccount(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** The postgres user must be able to reach the data directory through every parent folder. */
function assertTraversable(dir: string, uid: number): void {
  let current = dirname(dir);
  for (;;) {
    const st = statSync(current);
    const ok = st.uid === uid || (st.mode & 0o001) !== 0;
    if (!ok) {
      throw new Error(
        `the embedded PostgreSQL runs as user "postgres" when Postlog runs as root, and it cannot enter ${current}. ` +
          `Choose a data directory outside it (POSTLOG_DATA_DIR) or run "chmod o+x ${current}".`,
      );
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Guards against a recycled PID: after a reboot the number in postmaster.pid may be anything. */
function isPostgres(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return true; // no /proc (macOS): trust the PID.
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Linux keeps a socket's path in 108 bytes, the terminating NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * The cluster directory, when the socket path in it (`.s.PGSQL.<port>`) fits in what Linux allows;
 * otherwise none, and the server listens on TCP only (PostgreSQL would refuse to start).
 */
export function socketDirectoryFor(pgDir: string, port: number): string | undefined {
  return Buffer.byteLength(join(pgDir, `.s.PGSQL.${port}`)) <= MAX_SOCKET_PATH_BYTES ? pgDir : undefined;
}

/** PostgreSQL reads unix_socket_directories as a comma-separated list; a quoted entry may hold commas. */
function quotedDirectory(dir: string | undefined): string {
  return dir === undefined ? '' : `"${dir.replace(/"/g, '""')}"`;
}
