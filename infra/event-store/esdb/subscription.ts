import {
  START as CLIENT_START,
  type AllStreamResolvedEvent,
  type Filter,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import type { Logger } from '../../logging/index.js';
import type { BatchHandler, Checkpoint, EventFilter, RecordedEvent, Subscription } from '../port.js';
import { START } from '../port.js';
import { compareEsdbCheckpoints, decodeCheckpoint, matchesFilter, serverFilter, toRecordedEvent } from './mapping.js';

/** What the client's subscribeToAll returns, as far as this file uses it: a stream of $all records. */
export interface RecordStream {
  // what this file uses of the client's Readable, named one by one: the client's iterator type predates
  // Node 24's (it lacks [Symbol.asyncDispose]), so the stream is no longer assignable to Readable itself
  [Symbol.asyncIterator](): AsyncIterator<unknown>;
  on(event: 'caughtUp' | 'fellBehind', listener: () => void): unknown;
  destroy(): unknown;
  readonly readableLength: number;
  unsubscribe(): Promise<void>;
}

export interface EsdbSubscriptionOptions {
  /** Opens a server subscription to $all after `from` (the adapter binds the client's subscribeToAll). */
  open(from: ReadPosition, filter: Filter, highWaterMark: number): RecordStream;
  from: Checkpoint | 'end';
  filter?: EventFilter;
  batchSize: number;
  handler: BatchHandler;
  logger: Logger;
  /** The checkpoint of the newest event, to start a subscription "from the end" at a known place. */
  head(): Promise<Checkpoint>;
  /** First wait before resubscribing after the server dropped us; doubles up to maxRetryMs. */
  initialRetryMs: number;
  maxRetryMs: number;
  onResubscribe?: (error: Error) => void;
}

/** How long a partial batch waits for more events before it is handled anyway (while catching up). */
const IDLE_FLUSH_MS = 25;
const IDLE = Symbol('idle');

/** A handler failure: ends the subscription (unlike a server failure, which is retried). */
class HandlerFailed extends Error {
  constructor(readonly original: unknown) {
    super('the subscription handler failed');
  }
}

/** Wait before the n-th consecutive resubscription (n ≥ 1): doubling back-off, capped. */
export function resubscribeDelay(failures: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(failures - 1, 20)));
}

/**
 * A catch-up subscription to $all with the server-side filter, delivered to the handler in
 * batches (what has arrived while the previous batch was handled, up to batchSize). When the
 * server drops it (a slow subscriber whose buffer overflowed, a leader change, a restart), it
 * resubscribes from the checkpoint of the last batch handled, with back-off: the handler sees
 * each event once, because events at or before that checkpoint are skipped.
 */
export class EsdbSubscription implements Subscription {
  readonly done: Promise<void>;
  private current: Checkpoint = START;
  private stopping = false;
  private live: RecordStream | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly o: EsdbSubscriptionOptions) {
    this.done = this.run();
  }

  get checkpoint(): Checkpoint {
    return this.current;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const live = this.live;
    if (live) {
      await live.unsubscribe().catch(() => undefined);
      live.destroy();
    }
    await this.done.catch(() => undefined);
  }

  private async run(): Promise<void> {
    let failures = 0;
    let positioned = this.o.from !== 'end';
    if (this.o.from !== 'end') this.current = this.o.from;
    while (!this.stopping) {
      let sub: RecordStream | undefined;
      try {
        // "from the end" is where the log ends when we first reach the server
        if (!positioned) {
          this.current = await this.o.head();
          positioned = true;
        }
        const position = decodeCheckpoint(this.current);
        sub = this.o.open(
          position === 'start' ? CLIENT_START : position,
          serverFilter(this.o.filter),
          this.o.batchSize,
        );
        this.live = sub;
        const handled = await this.consume(sub);
        if (handled) failures = 0;
        if (!this.stopping) throw new Error('the server ended the subscription');
      } catch (e) {
        if (e instanceof HandlerFailed) throw e.original;
        if (this.stopping) break;
        failures++;
        const delay = resubscribeDelay(failures, this.o.initialRetryMs, this.o.maxRetryMs);
        const error = e instanceof Error ? e : new Error(String(e));
        this.o.logger.warn(
          { error: error.message, checkpoint: this.current, failures, retryInMs: delay },
          'the $all subscription was dropped: resubscribing from the last checkpoint handled',
        );
        this.o.onResubscribe?.(error);
        await this.sleep(delay);
      } finally {
        this.live = undefined;
        if (sub) {
          await sub.unsubscribe().catch(() => undefined);
          sub.destroy();
        }
      }
    }
  }

  /**
   * Reads until the stream ends or fails; true when at least one batch was handled. While catching
   * up, batches are filled to batchSize (one projection transaction per batch); once live (the
   * server said "caught up") or when nothing more arrives for IDLE_FLUSH_MS (servers before 23.10
   * never say it), what has arrived is handled at once.
   */
  private async consume(sub: RecordStream): Promise<boolean> {
    let handled = false;
    let live = false;
    sub.on('caughtUp', () => (live = true));
    sub.on('fellBehind', () => (live = false));
    let batch: RecordedEvent[] = [];
    const flush = async () => {
      try {
        await this.o.handler(batch);
      } catch (e) {
        throw new HandlerFailed(e);
      }
      this.current = batch[batch.length - 1]!.checkpoint;
      batch = [];
      handled = true;
    };
    const records = (sub as AsyncIterable<AllStreamResolvedEvent>)[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<AllStreamResolvedEvent>> | undefined;
    try {
      while (!this.stopping) {
        const next = (pending ??= records.next());
        let result: IteratorResult<AllStreamResolvedEvent> | typeof IDLE;
        if (batch.length === 0) result = await next;
        else {
          const wait = live && sub.readableLength === 0 ? 0 : IDLE_FLUSH_MS;
          let timer: NodeJS.Timeout | undefined;
          result = await Promise.race([
            next,
            new Promise<typeof IDLE>((r) => (timer = setTimeout(() => r(IDLE), wait))),
          ]);
          clearTimeout(timer);
        }
        if (result === IDLE) {
          await flush();
          continue;
        }
        pending = undefined;
        if (result.done) break;
        const resolved = result.value;
        const event = resolved.event ? toRecordedEvent(resolved.event) : undefined;
        // already handled before a resubscription (the start position may be inclusive), or filtered out
        if (event && matchesFilter(event, this.o.filter) && compareEsdbCheckpoints(event.checkpoint, this.current) > 0)
          batch.push(event);
        if (batch.length >= this.o.batchSize) await flush();
      }
      if (batch.length > 0 && !this.stopping) await flush();
    } finally {
      // A read may still be waiting (a partial batch was flushed while more was awaited): run()
      // destroys the stream, which ends it. Awaiting the iterator's return() here would queue behind
      // that read and never finish; its rejection must not surface as unhandled either.
      pending?.catch(() => undefined);
    }
    return handled;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}
