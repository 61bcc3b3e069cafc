import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from '../logging/index.js';
import { embeddedPostgresBinaries } from './embedded-binaries.js';
import { OwnerFile } from './owner-file.js';
import {
  clearLocksOfStoppedServer,
  clearStaleSocketLock,
  processState,
  readPostmasterLock,
} from './postmaster-lock.js';
import { PostmasterWatchdog, type PostmasterExit, type WatchedPostmaster } from './postmaster-watchdog.js';

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
 * - the owner watches the server for its whole life and starts it again when it dies
 *   (PostmasterWatchdog); a guest that finds it down waits for the owner to do so;
 * - a crash never blocks the next start: the lock files of a server that no longer runs are
 *   removed once its processes are gone (PostgreSQL itself refuses to start while they name a
 *   zombie or a reused PID), and a server orphaned by a crashed owner is adopted;
 * - as root, the server runs as the `postgres` user (created if missing), since PostgreSQL
 *   refuses to run as root.
 */
export class EmbeddedPostgres {
  private readonly pgDir: string;
  private readonly owner: OwnerFile;
  private readonly secretsFile: string;
  /** The server this process owns (started or adopted); undefined for a guest. */
  private server: WatchedPostmaster | undefined;
  private watchdog: PostmasterWatchdog | undefined;
  private url: string | undefined;

  constructor(private readonly options: EmbeddedPostgresOptions) {
    const dataDir = resolve(options.dataDir);
    this.pgDir = join(dataDir, 'pg');
    this.owner = new OwnerFile(join(dataDir, 'embedded-pg.owner'));
    this.secretsFile = join(dataDir, 'embedded-pg.json');
  }

  get connectionString(): string {
    if (this.url === undefined) throw new Error('embedded PostgreSQL is not started');
    return this.url;
  }

  get owned(): boolean {
    return this.server !== undefined;
  }

  /** Starts the server, or joins the one another Postlog process runs. Returns a connection URL. */
  async start(): Promise<string> {
    mkdirSync(dirname(this.pgDir), { recursive: true, mode: 0o755 });
    this.url = await this.run();
    if (this.server) {
      this.watchdog = new PostmasterWatchdog(this.server, {
        logger: this.options.logger,
        restart: (signal) => this.restart(signal),
      });
    }
    return this.url;
  }

  /** Fast shutdown of the server if this process owns it; guests leave it running. */
  async stop(): Promise<void> {
    // first: a server stopped here must not be started again
    await this.watchdog?.stop();
    this.watchdog = undefined;
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    if (processState(server.pid) === 'running') {
      try {
        process.kill(server.pid, 'SIGINT'); // PostgreSQL "fast" shutdown: clean, aborts open sessions.
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // it ended meanwhile
      }
      const deadline = Date.now() + 30_000;
      while (processState(server.pid) === 'running' && Date.now() < deadline) await sleep(50);
      if (processState(server.pid) === 'running') process.kill(server.pid, 'SIGQUIT');
    }
    this.owner.release();
    this.options.logger.info('embedded PostgreSQL stopped');
  }

  /**
   * Joins the server running on this data dir once it accepts connections (as a guest when another
   * live process owns it, else adopting it), or starts one once a dead one's lock files are cleared.
   */
  private async run(signal?: AbortSignal): Promise<string> {
    const log = this.options.logger;
    const timeoutMs = this.options.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    let waitingForOwner = false;
    let diedWhileJoining = 0;
    for (;;) {
      const lock = readPostmasterLock(this.pgDir);
      const owner = this.owner.liveOwnerElsewhere();
      if (lock !== undefined && processState(lock.pid) === 'running') {
        if (owner === undefined)
          log.warn(
            { pgPid: lock.pid, port: lock.port },
            'adopting an embedded PostgreSQL left running by a Postlog process that exited without stopping it',
          );
        const url = this.urlFor(lock.port, lock.socketDirectory);
        try {
          // it may be starting (again): a guest's first query must not meet "the database system is starting up"
          await this.waitUntilReady(
            url,
            () => processState(lock.pid) === 'running',
            () => `the embedded PostgreSQL (PID ${lock.pid}) stopped`,
            signal,
          );
        } catch (err) {
          // it died while we waited: from here on it is a crashed server like any other
          if (processState(lock.pid) !== 'running' && ++diedWhileJoining < 3) continue;
          throw err;
        }
        if (owner !== undefined) {
          log.info(
            { pgPid: lock.pid, port: lock.port, ownerPid: owner },
            'using the embedded PostgreSQL run by another Postlog process',
          );
          return url;
        }
        this.server = this.watchAdopted(lock.pid);
        this.owner.claim();
        return url;
      }
      if (owner !== undefined) {
        // its owner is starting it (again, PostmasterWatchdog): a server started here would be taken from it
        if (Date.now() > deadline)
          throw new Error(
            `the embedded PostgreSQL is down and the Postlog process that runs it (PID ${owner}) did not start it again within ${timeoutMs} ms`,
          );
        if (!waitingForOwner)
          log.info(
            { pgPid: lock?.pid, ownerPid: owner },
            'the embedded PostgreSQL is down; waiting for the Postlog process that runs it to start it again',
          );
        waitingForOwner = true;
        await sleep(100);
        continue;
      }
      if (lock !== undefined)
        await clearLocksOfStoppedServer(this.pgDir, lock, log, Math.max(1000, deadline - Date.now()));
      return this.spawnServer(signal);
    }
  }

  /** For the watchdog: the same as a start, where the dead server's lock files name this process as its owner. */
  private async restart(signal: AbortSignal): Promise<WatchedPostmaster> {
    this.server = undefined;
    await this.run(signal);
    // another process started one in the gap: it owns that one, and will restart it itself
    if (this.server === undefined)
      throw new Error('another Postlog process started the embedded PostgreSQL meanwhile and owns it now');
    return this.server;
  }

  private async spawnServer(signal: AbortSignal | undefined): Promise<string> {
    const log = this.options.logger;
    const bins = await embeddedPostgresBinaries();
    const account = postgresAccount();
    if (!existsSync(join(this.pgDir, 'PG_VERSION'))) await this.initialise(bins.initdb, account);

    const socketDirectory = socketDirectoryFor(this.pgDir, this.options.port);
    if (socketDirectory) clearStaleSocketLock(socketDirectory, this.options.port, log);
    // stop() came during the steps above: a server started now would outlive it
    if (signal?.aborted) throw new Error(ABANDONED);
    const logFile = join(dirname(this.pgDir), 'postgres.log');
    const fd = openSync(logFile, 'a');
    const child = spawn(
      bins.postgres,
      [
        '-D',
        this.pgDir,
        '-p',
        String(this.options.port),
        '-c',
        'listen_addresses=127.0.0.1',
        // Postlog connects over a Unix socket in the cluster's own directory (its default directory,
        // /var/run/postgresql, is often not writable); TCP stays open for psql and other tools.
        '-c',
        `unix_socket_directories=${quotedDirectory(socketDirectory)}`,
        '-c',
        'max_connections=300',
        '-c',
        'shared_buffers=256MB',
        '-c',
        'wal_buffers=16MB',
        '-c',
        'max_wal_size=2GB',
        '-c',
        'logging_collector=off',
        '-c',
        'log_min_messages=warning',
      ],
      { detached: true, stdio: ['ignore', fd, fd], ...account },
    );
    closeSync(fd);
    const pid = child.pid;
    if (pid === undefined) throw new Error('could not spawn the embedded PostgreSQL server');
    let exited = false;
    const exit = new Promise<PostmasterExit>((resolveExit) =>
      child.once('exit', (code, exitSignal) => {
        exited = true;
        resolveExit({ code, signal: exitSignal, crashed: this.leftItsLockFile(pid) });
      }),
    );
    child.unref();
    this.server = { pid, startedAt: Date.now(), exited: exit };
    this.owner.claim();
    const url = this.urlFor(this.options.port, socketDirectory);
    try {
      await this.waitUntilReady(
        url,
        () => !exited,
        () =>
          `the embedded PostgreSQL server exited during start-up. Last lines of ${logFile}:\n${tail(logFile, 15)}` +
          (/could not bind|Address already in use/.test(tail(logFile, 15))
            ? `\nPort ${this.options.port} is taken: set POSTLOG_EMBEDDED_PG_PORT to a free port.`
            : ''),
        signal,
      );
    } catch (err) {
      // a server that is still starting (start-up abandoned by stop()) is stop()'s to end
      if (exited) this.server = undefined;
      throw err;
    }
    // a restart says so itself (PostmasterWatchdog)
    if (signal === undefined) {
      log.info(
        { port: this.options.port, dir: this.pgDir, pgPid: pid, via: socketDirectory ? 'unix socket' : 'tcp' },
        'embedded PostgreSQL started',
      );
      if (!socketDirectory)
        log.info(
          { dir: this.pgDir },
          'the data dir path is too long for a Unix socket (107 bytes): Postlog connects over TCP, which costs a little more CPU',
        );
    }
    return url;
  }

  /** A server this process did not start is not its child: no exit event, so its PID is polled. */
  private watchAdopted(pid: number): WatchedPostmaster {
    const exited = new Promise<PostmasterExit>((resolveExit) => {
      const timer = setInterval(() => {
        if (processState(pid) === 'running') return;
        clearInterval(timer);
        resolveExit({ code: null, signal: null, crashed: this.leftItsLockFile(pid) });
      }, ADOPTED_POLL_MS);
      timer.unref(); // ends with the server; must not keep the process alive on its own
    });
    return { pid, startedAt: Date.now(), exited };
  }

  /** A server that was shut down removed its postmaster.pid; one that was killed or crashed could not. */
  private leftItsLockFile(pid: number): boolean {
    try {
      return readPostmasterLock(this.pgDir)?.pid === pid;
    } catch (err) {
      this.options.logger.warn(
        { error: (err as Error).message },
        'could not read postmaster.pid of the embedded PostgreSQL that exited: taking it for a crash',
      );
      return true;
    }
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
    writeFileSync(pwFile, `${secrets.password}\n`, { mode: 0o644 });
    try {
      execFileSync(
        initdb,
        [
          `--pgdata=${this.pgDir}`,
          '--auth=scram-sha-256',
          `--username=${secrets.user}`,
          `--pwfile=${pwFile}`,
          '--encoding=UTF8',
          '--locale=C',
        ],
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

  private async waitUntilReady(
    url: string,
    alive: () => boolean,
    failure: () => string,
    signal?: AbortSignal,
  ): Promise<void> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
    let lastError = '';
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new Error(ABANDONED);
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
    execFileSync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
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

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ABANDONED = 'start of the embedded PostgreSQL abandoned: Postlog is stopping';

/** How often the PID of a server this process adopted (not its child) is looked at. */
const ADOPTED_POLL_MS = 500;

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
