import { LRUCache } from 'lru-cache';
import { pauseHolding } from '../../domain/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { loadReputation } from './reputation-state.js';

/**
 * Whether the reputation guard holds a server's new mail, for every message accepted: a read of the
 * server's reputation stream each time was a database round trip per accepted message (and its
 * events decoded again), for an answer that is nearly always "no pause".
 *
 * So a server with no pause at all is remembered as such for a second: a pause takes effect within
 * a second (the guard's rates are counted by the minute). A server with a pause is read afresh
 * every time, so that a resume (in any process) releases new mail at once — held mail after an
 * operator's resume would wait for someone to release it by hand.
 */
export class ReputationPauses {
  private readonly unpaused: LRUCache<string, true>;

  constructor(
    private readonly store: Pick<EventStore, 'readStream'>,
    ttlMs = 1000,
  ) {
    this.unpaused = new LRUCache<string, true>({ max: 10_000, ttl: ttlMs });
  }

  /** The pause that holds new mail of the server from `fromDomain`, or undefined: it goes on. */
  async holding(serverId: string, fromDomain: string) {
    if (this.unpaused.has(serverId)) return undefined;
    const { state } = await loadReputation(this.store, serverId);
    if (![...state.values()].some((scope) => scope.paused)) this.unpaused.set(serverId, true);
    return pauseHolding(state, fromDomain);
  }
}
