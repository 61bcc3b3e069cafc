import type { BatchHandler, Checkpoint, EventFilter, Subscription } from '../port.js';
import { encodeCheckpoint } from './checkpoint.js';
import { toRecordedEvent, type MemoryEventLog } from './memory-log.js';

export interface MemorySubscriptionOptions {
  log: MemoryEventLog;
  from: Checkpoint | 'end';
  filter?: EventFilter;
  batchSize: number;
  handler: BatchHandler;
}

/**
 * Catch-up, then live: hands the handler batches of what is in the log after its position; when
 * it has seen everything it waits for the log's next commit (no polling, no timers). "end" is
 * the head at the moment of subscribing: an event appended after subscribeAll returns is seen.
 */
export class MemorySubscription implements Subscription {
  readonly done: Promise<void>;
  private current: Checkpoint;
  /** Position scanned up to: with a filter it can be past the last event handled. */
  private scanned = 0;
  private stopping = false;
  private waiting = false;
  private ended = false;
  private wake: (() => void) | undefined;
  private idleWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(private readonly o: MemorySubscriptionOptions) {
    this.current = o.from === 'end' ? o.log.headCheckpoint() : o.from;
    this.done = this.run();
    this.done.then(
      () => this.end(undefined),
      (error: unknown) => this.end({ error }),
    );
  }

  get checkpoint(): Checkpoint {
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.done.catch(() => undefined);
  }

  /** Resolves once every event committed so far has been handled (rejects if the handler failed). */
  caughtUp(): Promise<void> {
    if (this.ended) return this.done;
    if (this.waiting && this.scanned === this.o.log.length) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  private async run(): Promise<void> {
    const { log, batchSize, filter, handler } = this.o;
    this.scanned = log.positionOf(this.current);
    const unlisten = log.onCommit(() => this.wake?.());
    try {
      while (!this.stopping) {
        const { events, scannedTo } = log.scan(this.scanned, batchSize, filter);
        if (events.length > 0) {
          await handler(events.map(toRecordedEvent));
          const last = events[events.length - 1]!;
          this.current = encodeCheckpoint(last.transaction, last.position);
          this.scanned = scannedTo;
          continue;
        }
        this.scanned = scannedTo;
        if (this.scanned === log.length) await this.nextCommit();
      }
    } finally {
      unlisten();
    }
  }

  private nextCommit(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting = true;
      this.wake = () => {
        this.wake = undefined;
        this.waiting = false;
        resolve();
      };
      if (this.stopping) this.wake();
      else this.answerIdle();
    });
  }

  /** Answers caughtUp() now that everything committed has been handled. */
  private answerIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w.resolve();
  }

  /** Answers caughtUp() when the subscription has ended: stopped, or with the handler's error. */
  private end(failure: { error: unknown } | undefined): void {
    this.ended = true;
    for (const w of this.idleWaiters.splice(0)) {
      if (failure) w.reject(failure.error);
      else w.resolve();
    }
  }
}
