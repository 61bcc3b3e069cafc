import type { Logger } from '../logging/index.js';

/** A postmaster this process owns, and how it ended. */
export interface WatchedPostmaster {
  pid: number;
  startedAt: number;
  exited: Promise<PostmasterExit>;
}

export interface PostmasterExit {
  /** Known for a server this process started; unknown (null) for one it adopted. */
  code: number | null;
  signal: string | null;
  /**
   * It left its postmaster.pid behind: it was killed or crashed. A server that was shut down (by
   * `pg_ctl stop`, or by another EmbeddedPostgres in the same process) removes it.
   */
  crashed: boolean;
}

export interface PostmasterWatchdogOptions {
  logger: Logger;
  /** Starts the server again; resolves once it accepts connections. Aborted by stop(). */
  restart: (signal: AbortSignal) => Promise<WatchedPostmaster>;
  /** Waits before the attempts after a quick death or a failed attempt; the last one repeats. */
  delaysMs?: number[];
  /** A server that ran this long before it died is restarted at once, its back-off afresh. */
  healthyRunMs?: number;
}

/**
 * Restarts the embedded PostgreSQL when it dies, for the whole life of the process that owns it:
 * a database that is gone for good would leave Postlog up but unable to do anything. The first
 * attempt comes at once; a server that keeps dying, or does not come up, is tried again less and
 * less often. Each death, failed attempt and restart is one log line.
 */
export class PostmasterWatchdog {
  private readonly abort = new AbortController();
  private readonly stopped: Promise<void>;
  private readonly watching: Promise<void>;

  constructor(
    server: WatchedPostmaster,
    private readonly o: PostmasterWatchdogOptions,
  ) {
    this.stopped = new Promise((resolve) =>
      this.abort.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    this.watching = this.watch(server).catch((err: Error) =>
      o.logger.error(
        { error: err.message },
        'the embedded PostgreSQL watchdog failed: the server is no longer watched',
      ),
    );
  }

  /** No more restarts; an attempt in progress is abandoned (its server, if it started, is the owner's to stop). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.watching;
  }

  private async watch(first: WatchedPostmaster): Promise<void> {
    const log = this.o.logger;
    const delays = this.o.delaysMs ?? [1000, 2000, 5000, 10_000, 30_000];
    const healthyRunMs = this.o.healthyRunMs ?? 60_000;
    let server = first;
    /** Consecutive quick deaths and failed attempts: the index into the back-off. */
    let failures = 0;
    for (;;) {
      const exit = await Promise.race([server.exited, this.stopped.then(() => undefined)]);
      if (exit === undefined) return;
      const ranMs = Date.now() - server.startedAt;
      if (!exit.crashed) {
        // someone stopped it on purpose (pg_ctl stop, another EmbeddedPostgres on the same data dir): not overruled here
        log.error(
          { pgPid: server.pid, code: exit.code, signal: exit.signal, ranMs },
          'the embedded PostgreSQL was shut down, not by this process: it is not started again, and Postlog cannot work until it runs',
        );
        return;
      }
      if (ranMs >= healthyRunMs) failures = 0;
      const diedAt = Date.now();
      let wait = failures === 0 ? 0 : delays[Math.min(failures - 1, delays.length - 1)]!;
      log.error(
        { pgPid: server.pid, code: exit.code, signal: exit.signal, ranMs, restartInMs: wait },
        'the embedded PostgreSQL died; restarting it',
      );
      for (let attempt = 1; ; attempt++) {
        if (wait > 0 && !(await this.sleep(wait))) return;
        try {
          server = await this.o.restart(this.abort.signal);
          failures++;
          log.info({ pgPid: server.pid, attempt, downMs: Date.now() - diedAt }, 'embedded PostgreSQL restarted');
          break;
        } catch (err) {
          if (this.abort.signal.aborted) return;
          failures++;
          wait = delays[Math.min(failures - 1, delays.length - 1)]!;
          log.error(
            { attempt, error: (err as Error).message, retryInMs: wait },
            'the embedded PostgreSQL did not start again; retrying',
          );
        }
      }
    }
  }

  /** False when stop() came first. */
  private async sleep(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const slept = await Promise.race([
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), ms))),
      this.stopped.then(() => false),
    ]);
    clearTimeout(timer);
    return slept;
  }
}
