import type { Logger } from '../../logging/index.js';
import type { BatchHandler, Checkpoint, EventFilter, EventStore, Subscription } from '../port.js';
import { decodeCheckpoint } from './checkpoint.js';
import { mayConcern, type CommitNotifications } from './notifications.js';

export interface PollingSubscriptionOptions {
  store: Pick<EventStore, 'readAll' | 'headCheckpoint'>;
  notifications: CommitNotifications;
  from: Checkpoint | 'end';
  filter?: EventFilter;
  batchSize: number;
  pollIntervalMs: number;
  /**
   * After a batch that did not fill up (the subscriber has caught up), wait this long before
   * reading again, so that the commits of the next few milliseconds arrive as one batch. Without
   * it, a log written by many small commits gets each subscriber reading and applying nearly every
   * commit on its own: a transaction and several round trips per handful of events, per
   * subscriber. The first event after a quiet spell is still read at once (on its notification).
   */
  lingerMs?: number;
  handler: BatchHandler;
  /** Told when a read moved past events the filter does not take, with nothing to hand over. */
  onSkip?: (to: { checkpoint: Checkpoint; position: number }) => Promise<void> | void;
  logger: Logger;
}

/**
 * Catch-up, then live: reads batches until the log is exhausted, then sleeps until a commit
 * notification or the poll interval. The poll covers events that were committed but not yet
 * readable when their notification arrived (an older transaction was still running).
 */
export class PollingSubscription implements Subscription {
  readonly done: Promise<void>;
  private current: Checkpoint = 'start';
  private stopping = false;
  /** Ends a sleep on a commit notification. */
  private wake: (() => void) | undefined;
  /** Ends any sleep, a linger too: stop(). */
  private interrupt: (() => void) | undefined;
  private pending = false;

  constructor(private readonly o: PollingSubscriptionOptions) {
    this.done = this.run();
  }

  get checkpoint(): Checkpoint {
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.interrupt?.();
    await this.done.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const unlisten = this.o.notifications.on((kinds) => {
      // a commit of other streams only: nothing new for this reader (an event of ours that such a
      // commit made readable, by ending after it, is read at the next poll)
      if (!mayConcern(kinds, this.o.filter)) return;
      this.pending = true;
      this.wake?.();
    });
    try {
      this.current = this.o.from === 'end' ? await this.o.store.headCheckpoint() : this.o.from;
      const read = (from: Checkpoint) => this.o.store.readAll(from, this.o.batchSize, this.o.filter);
      let next: ReturnType<typeof read> | undefined;
      while (!this.stopping) {
        this.pending = false;
        const { events, checkpoint } = await (next ?? read(this.current));
        next = undefined;
        if (events.length > 0) {
          // catching up: read the following batch while the handler works on this one (a slow sink
          // or read model then does not wait for the database in between); one batch ahead at most
          if (events.length === this.o.batchSize) {
            next = read(checkpoint);
            next.catch(() => undefined); // a failing read-ahead is seen when awaited, or dropped if the handler fails first
          }
          await this.o.handler(events);
          this.current = checkpoint;
          if (events.length < this.o.batchSize && this.o.lingerMs) await this.sleep(this.o.lingerMs, true);
          continue;
        }
        if (checkpoint !== this.current) {
          // nothing matched, but the read looked further: the next one starts there
          this.current = checkpoint;
          await this.o.onSkip?.({ checkpoint, position: Number(decodeCheckpoint(checkpoint).position) });
        }
        if (!this.pending) await this.sleep(this.o.pollIntervalMs);
      }
    } finally {
      unlisten();
    }
  }

  /** Until `ms` pass or stop(), or a commit notification arrives (unless `throughCommits`). */
  private sleep(ms: number, throughCommits = false): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.interrupt = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.interrupt = done;
      if (!throughCommits) this.wake = done;
    });
  }
}
