import { machineHit, type MessageCommandInput } from '../../domain/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { handleMessageCommand, loadMessages } from '../message-command-handler.js';

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
  /** Recent clicks per message, to spot scanners that follow every link at once. */
  private readonly recentClicks = new Map<string, { url: string; at: number }[]>();

  constructor(private readonly d: { eventStore: EventStore; logger: Logger; capacity?: number; onRecorded?: (hit: Hit, machine: boolean) => void }) {}

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
        this.d.logger.error({ error: (err as Error).message, hits: batch.length }, 'tracking hits could not be recorded; retrying');
        this.queue.unshift(...batch);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async write(batch: Hit[]): Promise<void> {
    const byMessage = new Map<string, Hit[]>();
    for (const h of batch) byMessage.set(h.messageId, [...(byMessage.get(h.messageId) ?? []), h]);
    const states = await loadMessages(this.d.eventStore, [...byMessage.keys()]);
    await Promise.all(
      [...byMessage].map(async ([messageId, hits]) => {
        let known = states.get(messageId);
        for (const hit of hits) {
          const loaded = known?.ok ? known.value : undefined;
          const deliveredAt = loaded?.state.deliveredAt ? new Date(loaded.state.deliveredAt) : undefined;
          const verdict = machineHit({
            kind: hit.kind,
            userAgent: hit.userAgent,
            ...(deliveredAt ? { deliveredAt } : {}),
            now: hit.at,
            recentDistinctClicks: hit.kind === 'click' ? this.distinctRecentClicks(messageId, hit) : 0,
          });
          const base = { ip: hit.ip, userAgent: hit.userAgent.slice(0, 500), machine: verdict.machine, at: hit.at.toISOString() };
          const command: MessageCommandInput = hit.kind === 'open' ? { type: 'RecordOpen', ...base } : { type: 'RecordClick', url: hit.url!, ...base };
          const result = await handleMessageCommand(this.d.eventStore, messageId, command, { serverId: hit.serverId, actor: 'tracking', correlationId: `hit-${messageId}` }, 5, loaded);
          if (!result.ok) {
            this.d.logger.warn({ messageId, kind: hit.kind, error: result.error.code }, 'tracking hit not recorded');
            known = undefined;
          } else {
            this.d.onRecorded?.(hit, verdict.machine);
            known = { ok: true, value: { state: result.value.state, revision: result.value.nextExpectedRevision } };
          }
        }
      }),
    );
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
