import type { Logger } from '../../logging/index.js';
import type { BatchHandler, Checkpoint, EventFilter, EventStore, Subscription } from '../port.js';
import type { CommitNotifications } from './notifications.js';

export interface PollingSubscriptionOptions {
  store: Pick<EventStore, 'readAll' | 'headCheckpoint'>;
  notifications: CommitNotifications;
  from: Checkpoint | 'end';
  filter?: EventFilter;
  batchSize: number;
  pollIntervalMs: number;
  handler: BatchHandler;
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
  private wake: (() => void) | undefined;
  private pending = false;

  constructor(private readonly o: PollingSubscriptionOptions) {
    this.done = this.run();
  }

  get checkpoint(): Checkpoint {
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.done.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const unlisten = this.o.notifications.on(() => {
      this.pending = true;
      this.wake?.();
    });
    try {
      this.current = this.o.from === 'end' ? await this.o.store.headCheckpoint() : this.o.from;
      while (!this.stopping) {
        this.pending = false;
        const { events, checkpoint } = await this.o.store.readAll(this.current, this.o.batchSize, this.o.filter);
        if (events.length > 0) {
          await this.o.handler(events);
          this.current = checkpoint;
          continue;
        }
        if (!this.pending) await this.sleep();
      }
    } finally {
      unlisten();
    }
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.o.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}
