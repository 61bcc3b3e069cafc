import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logging/index.js';

/**
 * What a PostgreSQL server's postmaster.pid says about it (see PostgreSQL's miscadmin.h,
 * LOCK_FILE_LINE_*): its PID, port, first Unix socket directory and shared memory segment.
 */
export interface PostmasterLock {
  pid: number;
  port: number;
  /** Empty in the file when the server listens on TCP only. */
  socketDirectory: string | undefined;
  /** The System V segment PostgreSQL uses to see whether a server's processes are still around. */
  sharedMemory: { key: number; id: number } | undefined;
}

export function readPostmasterLock(pgDir: string): PostmasterLock | undefined {
  const text = readIfExists(join(pgDir, 'postmaster.pid'));
  if (text === undefined) return undefined;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  // a server still writing the file (or a truncated one): nothing to go by
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const [key, id] = (lines[6]?.trim().split(/\s+/) ?? []).map(Number);
  return {
    pid,
    port: Number(lines[3]),
    socketDirectory: lines[4]?.trim() || undefined,
    sharedMemory: Number.isInteger(key) && Number.isInteger(id) ? { key: key!, id: id! } : undefined,
  };
}

/**
 * - running: a live PostgreSQL process;
 * - exited: dead, but not reaped yet by its parent (a zombie: an orphaned postmaster's parent is
 *   init, which may take its time or, in a container whose PID 1 is not an init, never reap it);
 * - gone: no such process;
 * - other: the PID now belongs to another program (PIDs are reused, e.g. after a reboot).
 *
 * PostgreSQL itself only asks kill(pid, 0), to which a zombie answers "alive": it refuses to
 * start while a lock file names an exited postmaster.
 */
export type ProcessState = 'running' | 'exited' | 'gone' | 'other';

export function processState(pid: number): ProcessState {
  const state = liveness(pid);
  if (state !== 'alive') return state;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres') ? 'running' : 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return existsSync('/proc/self/cmdline') ? 'gone' : 'running'; // reaped meanwhile; or no /proc (macOS): trust the PID
    throw err;
  }
}

/** A process that runs: neither gone nor a zombie. */
export function isLiveProcess(pid: number): boolean {
  return liveness(pid) === 'alive';
}

/**
 * When the process started (clock ticks since boot): with its PID, it names one process, where a
 * PID alone may name another program after a reboot. Undefined when unknown (no /proc).
 */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19]; // field 22 of /proc/<pid>/stat
}

function liveness(pid: number): 'alive' | 'exited' | 'gone' {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return 'gone'; // EPERM: alive, another user's
  }
  const fields = statFields(pid);
  if (fields === undefined) return existsSync('/proc/self/stat') ? 'gone' : 'alive'; // reaped meanwhile; or no /proc (macOS): trust kill()
  return fields[0] === 'Z' || fields[0] === 'X' ? 'exited' : 'alive';
}

/** The fields of /proc/<pid>/stat from the third (the state) on; undefined when there is no such file. */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  // "<pid> (<command>) <state> …": the command may itself hold parentheses and spaces
  return stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
}

/**
 * How many processes still have the segment attached: a crashed postmaster's children (backends,
 * checkpointer…) leave soon after it, but until they have, a new server must not start on the same
 * data directory. Undefined where the kernel does not say (no /proc).
 */
export function sharedMemoryAttachments(segment: { key: number; id: number }): number | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/sysvipc/shm', 'utf8');
  } catch (err) {
    if (['ENOENT', 'EACCES'].includes((err as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw err;
  }
  const [header, ...rows] = table.trim().split('\n');
  const columns = header?.trim().split(/\s+/) ?? [];
  const [keyColumn, idColumn, attachColumn] = ['key', 'shmid', 'nattch'].map((c) => columns.indexOf(c));
  if (keyColumn! < 0 || idColumn! < 0 || attachColumn! < 0) return undefined;
  for (const row of rows) {
    const cells = row.trim().split(/\s+/);
    // the key too: an id of a removed segment may have been given to another server's
    if (Number(cells[keyColumn!]) === segment.key && Number(cells[idColumn!]) === segment.id)
      return Number(cells[attachColumn!]);
  }
  return 0; // the segment is gone
}

/**
 * Clears the lock files of a server that is no longer running (crashed, killed), once none of its
 * processes is left, so that a new server can start: postmaster.pid and the lock of its Unix
 * socket name its PID, and while that PID is a zombie (or reused) PostgreSQL would refuse to start
 * ("lock file … already exists"). Throws when its processes do not go away within `timeoutMs`.
 */
export async function clearLocksOfStoppedServer(
  pgDir: string,
  lock: PostmasterLock,
  logger: Logger,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  if (lock.sharedMemory !== undefined) {
    let attached = sharedMemoryAttachments(lock.sharedMemory) ?? 0;
    while (attached > 0) {
      if (Date.now() > deadline) {
        throw new Error(
          `${attached} process(es) of the embedded PostgreSQL that stopped (PID ${lock.pid}) still use its shared memory (id ${lock.sharedMemory.id}) after ${timeoutMs} ms: ` +
            `stop them (they run as "postgres: …") before starting Postlog again`,
        );
      }
      await sleep(20);
      attached = sharedMemoryAttachments(lock.sharedMemory) ?? 0;
    }
  }
  const files = [
    join(pgDir, 'postmaster.pid'),
    ...(lock.socketDirectory ? [socketLockFile(lock.socketDirectory, lock.port)] : []),
  ];
  // only files that still name that server: another one may have started meanwhile
  const stale = files.filter((file) => lockFilePid(file) === lock.pid);
  if (stale.length === 0) return;
  logger.warn(
    { pgPid: lock.pid, state: processState(lock.pid), files: stale },
    'removing the stale PostgreSQL lock files of a server that crashed or was killed',
  );
  for (const file of stale) rmSync(file, { force: true });
}

/**
 * A socket lock whose server is no longer running, left without its postmaster.pid (earlier
 * versions removed that one alone): PostgreSQL would refuse to start while its PID is a zombie.
 */
export function clearStaleSocketLock(socketDirectory: string, port: number, logger: Logger): void {
  const file = socketLockFile(socketDirectory, port);
  const pid = lockFilePid(file);
  if (pid === undefined || processState(pid) === 'running') return;
  logger.warn(
    { pgPid: pid, state: processState(pid), files: [file] },
    'removing the stale PostgreSQL lock file of a Unix socket whose server crashed or was killed',
  );
  rmSync(file, { force: true });
}

function socketLockFile(socketDirectory: string, port: number): string {
  return join(socketDirectory, `.s.PGSQL.${port}.lock`);
}

/** The PID on a lock file's first line (PostgreSQL writes the same first line in both). */
function lockFilePid(file: string): number | undefined {
  const pid = Number(readIfExists(file)?.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** A file's text, or undefined when there is no such file. */
function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
