import { LRUCache } from 'lru-cache';
import {
  MessageCommand,
  decide,
  evolve,
  machineHit,
  messageEventCodec,
  messageStreamId,
  type MessageCommandInput,
  type MessageEvent,
  type MessageState,
  type Result,
} from '../../domain/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import {
  handleMessageCommand,
  loadMessages,
  type CommandError,
  type LoadedMessage,
} from '../message-command-handler.js';

export interface Hit {
  kind: 'open' | 'click';
  messageId: string;
  serverId: string;
  url?: string;
  ip: string;
  userAgent: string;
  at: Date;
}

/**
 * Tracking hits are answered at once and written to the log in batches: a slow log costs the
 * recorder memory, not the recipient a slow pixel. The buffer is bounded (past it, a hit waits for
 * room) and drained on a clean shutdown, so an answered hit is not lost.
 *
 * A hit can come before the delivery it follows is in the log: the receiving server has the
 * message once it answers 250, and a mailbox that fetches images on receipt (Apple's Mail Privacy
 * Protection, Gmail's image proxy) opens it at once, while the MTA records the outcome moments
 * later (longer when the log is slow: the outcome is retried). Such a hit waits for the delivery
 * (tried again with back-off, `waitForDeliveryMs` at most), so that it is recorded after it.
 */
export class HitRecorder {
  private queue: Hit[] = [];
  private flushing: Promise<void> | undefined;
  private readonly roomWaiters: (() => void)[] = [];
  /**
   * The state each recently hit message had after our last append. Hits come in bursts per
   * message, and its stream grows with every one: re-reading it whole per batch costs more with
   * each hit. A stale entry (another process wrote meanwhile) only costs a wrong-revision answer,
   * after which the message is read afresh.
   */
  private readonly known = new LRUCache<string, LoadedMessage>({ max: 20_000 });
  /** Recent clicks per message, to spot scanners that follow every link at once. */
  private readonly recentClicks = new Map<string, { url: string; at: number }[]>();

  constructor(
    private readonly d: {
      eventStore: EventStore;
      logger: Logger;
      capacity?: number;
      /** How long a hit waits for its message's delivery to reach the log (10 minutes). */
      waitForDeliveryMs?: number;
      /** The first wait before it is tried again (250 ms); doubled up to 5 s. */
      retryDelayMs?: number;
      onRecorded?: (hit: Hit, machine: boolean) => void;
    },
  ) {}

  /** Hits waiting for their message's delivery, and when each is tried again; bounded like the queue. */
  private readonly waiting: { hit: Hit; retryAt: number }[] = [];
  private waitTimer: NodeJS.Timeout | undefined;
  private waitTimerAt = 0;
  /** How many distinct links a click's message had clicked just before it: counted once per hit. */
  private readonly clickBursts = new WeakMap<Hit, number>();

  get pending(): number {
    return this.queue.length + this.waiting.length;
  }

  async record(hit: Hit): Promise<void> {
    while (this.queue.length >= (this.d.capacity ?? 10_000)) await new Promise<void>((r) => this.roomWaiters.push(r));
    this.queue.push(hit);
    this.flushing ??= this.flushAll().finally(() => (this.flushing = undefined));
  }

  /**
   * Writes everything buffered (shutdown). A hit still waiting for its delivery gets one last try;
   * one that still finds none is dropped, and said so.
   */
  async drain(): Promise<void> {
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    const last = this.waiting.splice(0).map((w) => w.hit);
    this.draining = true;
    this.queue.push(...last);
    while (this.flushing || this.queue.length > 0) {
      this.flushing ??= this.flushAll().finally(() => (this.flushing = undefined));
      await this.flushing;
    }
    this.draining = false;
  }

  /** During drain(): a hit refused then is not kept waiting. */
  private draining = false;

  private async flushAll(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 500);
      this.roomWaiters.splice(0).forEach((r) => r());
      try {
        await this.write(batch);
      } catch (err) {
        this.d.logger.error(
          { error: (err as Error).message, hits: batch.length },
          'tracking hits could not be recorded; trying them one by one',
        );
        await new Promise((r) => setTimeout(r, 1000));
        // one bad hit must not hold up the rest: each gets one more try on its own
        for (const hit of batch) {
          try {
            await this.write([hit]);
          } catch (e) {
            this.d.logger.error(
              { messageId: hit.messageId, kind: hit.kind, error: (e as Error).message },
              'a tracking hit could not be recorded and is dropped',
            );
          }
        }
      }
    }
  }

  private async write(batch: Hit[]): Promise<void> {
    const byMessage = new Map<string, Hit[]>();
    for (const h of batch) byMessage.set(h.messageId, [...(byMessage.get(h.messageId) ?? []), h]);
    const unknown = [...byMessage.keys()].filter((id) => !this.known.has(id));
    const states =
      unknown.length > 0
        ? await loadMessages(this.d.eventStore, unknown)
        : new Map<string, Result<LoadedMessage, CommandError>>();
    await Promise.all(
      [...byMessage].map(([messageId, hits]) => {
        const cached = this.known.get(messageId);
        return this.writeMessage(messageId, hits, cached ? { ok: true, value: cached } : states.get(messageId));
      }),
    );
  }

  /** All of one message's hits in one append: decided in order on the loaded state. */
  private async writeMessage(
    messageId: string,
    hits: Hit[],
    loaded: Result<LoadedMessage, CommandError> | undefined,
  ): Promise<void> {
    if (!loaded?.ok) {
      this.d.logger.warn({ messageId, hits: hits.length }, 'tracking hits for an unknown message dropped');
      return;
    }
    let state = loaded.value.state;
    const events: MessageEvent[] = [];
    const recorded: [Hit, boolean][] = [];
    for (const hit of hits) {
      const command = this.commandFor(messageId, hit, state);
      const decision = decide(MessageCommand.parse(command.command), state);
      if (!decision.ok) {
        if (decision.error.code === 'MESSAGE_NOT_DELIVERED') this.awaitDelivery(messageId, hit);
        else this.d.logger.warn({ messageId, kind: hit.kind, error: decision.error.code }, 'tracking hit not recorded');
        continue;
      }
      for (const e of decision.value) state = evolve(state, e);
      events.push(...decision.value);
      recorded.push([hit, command.machine]);
    }
    if (events.length === 0) return;
    const appended = await this.d.eventStore.append(
      messageStreamId(messageId),
      events.map((e) => ({
        type: e.type,
        schemaVersion: messageEventCodec.schemaVersionOf(e.type),
        data: e.data,
        metadata: { serverId: hits[0]!.serverId, actor: 'tracking', correlationId: `hit-${messageId}` },
      })),
      loaded.value.revision,
    );
    if (appended.ok) {
      this.known.set(messageId, { state, revision: appended.value.nextExpectedRevision });
      for (const [hit, machine] of recorded) this.d.onRecorded?.(hit, machine);
      return;
    }
    this.known.delete(messageId);
    // someone else wrote to the message meanwhile: decide each hit again on fresh state
    for (const [hit] of recorded) {
      const command = this.commandFor(messageId, hit, undefined);
      const result = await handleMessageCommand(this.d.eventStore, messageId, command.command, {
        serverId: hit.serverId,
        actor: 'tracking',
        correlationId: `hit-${messageId}`,
      });
      if (result.ok) this.d.onRecorded?.(hit, command.machine);
      else if (result.error.code === 'MESSAGE_NOT_DELIVERED') this.awaitDelivery(messageId, hit);
      else this.d.logger.warn({ messageId, kind: hit.kind, error: result.error.code }, 'tracking hit not recorded');
    }
  }

  private commandFor(
    messageId: string,
    hit: Hit,
    state: MessageState | undefined,
  ): { command: MessageCommandInput; machine: boolean } {
    const verdict = machineHit({
      kind: hit.kind,
      userAgent: hit.userAgent,
      ...(state?.deliveredAt ? { deliveredAt: new Date(state.deliveredAt) } : {}),
      now: hit.at,
      recentDistinctClicks: hit.kind === 'click' ? this.clickBurst(messageId, hit) : 0,
    });
    const base = {
      ip: hit.ip,
      userAgent: hit.userAgent.slice(0, 500),
      machine: verdict.machine,
      at: hit.at.toISOString(),
    };
    return {
      command: hit.kind === 'open' ? { type: 'RecordOpen', ...base } : { type: 'RecordClick', url: hit.url!, ...base },
      machine: verdict.machine,
    };
  }

  /** The distinct recent clicks before this one, counted on its first try (a retried hit is not counted twice). */
  private clickBurst(messageId: string, hit: Hit): number {
    let n = this.clickBursts.get(hit);
    if (n === undefined) {
      n = this.distinctRecentClicks(messageId, hit);
      this.clickBursts.set(hit, n);
    }
    return n;
  }

  /**
   * The message is not delivered, as far as the log knows yet: the hit is tried again later, on the
   * message read afresh (what we knew of it is stale if the MTA wrote meanwhile).
   */
  private awaitDelivery(messageId: string, hit: Hit): void {
    this.known.delete(messageId);
    const now = Date.now();
    const previous = this.retries.get(hit);
    const deadline = previous?.deadline ?? now + (this.d.waitForDeliveryMs ?? 600_000);
    if (this.draining || now >= deadline || this.waiting.length >= (this.d.capacity ?? 10_000)) {
      this.d.logger.warn(
        { messageId, kind: hit.kind, error: 'MESSAGE_NOT_DELIVERED', waitedMs: previous ? now - previous.since : 0 },
        'tracking hit not recorded: its message was never delivered',
      );
      return;
    }
    const delayMs = previous ? Math.min(previous.delayMs * 2, 5000) : (this.d.retryDelayMs ?? 250);
    this.retries.set(hit, { deadline, delayMs, since: previous?.since ?? now });
    this.waiting.push({ hit, retryAt: now + delayMs });
    this.scheduleWaiting();
  }

  /** Per hit that waited: since when, its last wait, its deadline. */
  private readonly retries = new WeakMap<Hit, { deadline: number; delayMs: number; since: number }>();

  /** Sets the timer for the earliest waiting hit (earlier than the one set, if any: a new hit waits least). */
  private scheduleWaiting(): void {
    if (this.waiting.length === 0) return;
    const next = Math.min(...this.waiting.map((w) => w.retryAt));
    if (this.waitTimer && this.waitTimerAt <= next) return;
    clearTimeout(this.waitTimer);
    this.waitTimerAt = next;
    this.waitTimer = setTimeout(
      () => {
        this.waitTimer = undefined;
        const now = Date.now();
        const due = this.waiting.filter((w) => w.retryAt <= now);
        const rest = this.waiting.filter((w) => w.retryAt > now);
        this.waiting.splice(0, this.waiting.length, ...rest);
        if (due.length > 0) {
          this.queue.push(...due.map((w) => w.hit));
          this.flushing ??= this.flushAll().finally(() => (this.flushing = undefined));
        }
        this.scheduleWaiting();
      },
      Math.max(0, next - Date.now()),
    );
    this.waitTimer.unref();
  }

  private distinctRecentClicks(messageId: string, hit: Hit): number {
    const now = hit.at.getTime();
    const recent = (this.recentClicks.get(messageId) ?? []).filter((c) => c.at > now - 5000);
    const distinct = new Set(recent.filter((c) => c.url !== hit.url).map((c) => c.url)).size;
    recent.push({ url: hit.url ?? '', at: now });
    if (this.recentClicks.size > 50_000) this.recentClicks.clear();
    this.recentClicks.set(messageId, recent);
    return distinct;
  }
}
