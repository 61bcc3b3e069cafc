import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPostmasterLock } from '../infra/postgres/postmaster-lock.js';
import { cliPath } from '../test/helpers/postlog-process.js';

/** /ready's status, 0 when nothing answers. */
export async function readyStatus(url: string): Promise<number> {
  try {
    return (await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

/**
 * After a fault: when /ready answered 200 again (Date.now()). A fault is noticed by the server a moment
 * after it fires (a dead PostgreSQL on the next query), so an outage is looked for during `noticeMs`
 * first; when none shows, the service never went away and the answer is the first 200.
 */
export async function readyAgain(url: string, noticeMs: number, timeoutMs: number): Promise<number | undefined> {
  const noticeBy = Date.now() + noticeMs;
  let firstOk: number | undefined;
  while (Date.now() < noticeBy) {
    if ((await readyStatus(url)) !== 200) return waitReady(url, timeoutMs);
    firstOk ??= Date.now();
    await new Promise((r) => setTimeout(r, 100));
  }
  return firstOk ?? waitReady(url, timeoutMs);
}

/** Polls /ready until it answers 200; the time it did (Date.now()), or undefined at the deadline. */
export async function waitReady(url: string, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await readyStatus(url)) === 200) return Date.now();
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

/**
 * A real `postlog start` as the leader of its own process group (so `kill -9 -pgid` ends it and the
 * processes it forked at once, as an OOM kill or a power cut would), its output appended to a log
 * file. The embedded PostgreSQL is detached into a group of its own by Postlog and survives that.
 */
export class PostlogGroup {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private stopped = false;
  readonly url: string;

  constructor(
    readonly env: Record<string, string>,
    private readonly logPath: string,
  ) {
    this.url = `http://127.0.0.1:${env.POSTLOG_HTTP_PORT}`;
  }

  /** Starts it and waits for /ready 200. */
  async start(timeoutMs = 120_000): Promise<void> {
    const fd = openSync(this.logPath, 'a');
    const child = spawn(process.execPath, [cliPath, 'start'], {
      env: this.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    let gone = false;
    this.exited = new Promise((r) =>
      child.once('exit', () => {
        gone = true;
        r();
      }),
    );
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (gone) throw new Error(`postlog start exited during start-up (see ${this.logPath})`);
      if ((await readyStatus(this.url)) === 200) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`postlog start was not ready in ${timeoutMs} ms (see ${this.logPath})`);
  }

  /** kill -9 of the whole process group (supervisor and its processes). */
  async killGroup(): Promise<void> {
    if (!this.child?.pid) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await this.exited;
  }

  /** The process running the background roles (mta, projector), found by its environment. */
  workerPid(): number | undefined {
    const dataDir = `POSTLOG_DATA_DIR=${this.env.POSTLOG_DATA_DIR}`;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
        if (environ.includes(dataDir) && environ.includes('POSTLOG_PROCESS_NAME=worker')) return Number(entry);
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
    return undefined;
  }

  postgresPid(): number | undefined {
    return readPostmasterLock(join(this.env.POSTLOG_DATA_DIR!, 'pg'))?.pid;
  }

  /** kill -9 of the group and of its PostgreSQL, synchronously: for process.on('exit'). */
  killNow(): void {
    // after stop() nothing is ours any more: a pid read now could be another program's
    if (this.stopped) return;
    const running = this.child && this.child.exitCode === null && this.child.signalCode === null;
    for (const pid of [running && this.child?.pid && -this.child.pid, this.postgresPid()]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        // not running
      }
    }
  }

  /** SIGTERM, then SIGKILL of the group after 30 s; a PostgreSQL left behind is killed too. */
  async stop(): Promise<void> {
    if (this.child?.pid && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => void this.killGroup(), 30_000);
      await this.exited;
      clearTimeout(timer);
    }
    const pg = this.postgresPid();
    this.stopped = true;
    if (pg) {
      try {
        process.kill(pg, 'SIGKILL');
      } catch {
        // stopped with Postlog
      }
    }
  }
}
