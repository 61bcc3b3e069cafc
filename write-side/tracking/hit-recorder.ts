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
      onRecorded?: (hit: Hit, machine: boolean) => void;
    },
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  async record(hit: Hit): Promise<void> {
    while (this.queue.length >= (this.d.capacity ?? 10_000)) await new Promise<void>((r) => this.roomWaiters.push(r));
    this.queue.push(hit);
    this.flushing ??= this.flushAll().finally(() => (this.flushing = undefined));
  }

  /** Writes everything buffered (shutdown). */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      this.flushing ??= this.flushAll().finally(() => (this.flushing = undefined));
      await this.flushing;
    }
  }

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
        this.d.logger.warn({ messageId, kind: hit.kind, error: decision.error.code }, 'tracking hit not recorded');
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
      recentDistinctClicks: hit.kind === 'click' ? this.distinctRecentClicks(messageId, hit) : 0,
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
