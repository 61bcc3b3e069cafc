import {
  pauseHolding,
  reputationStateOf,
  reputationStreamId,
  tenancyEventCodec,
  type ReputationEvent,
  type ReputationState,
} from '../../domain/index.js';
import type { EventStore, ExpectedRevision } from '../../infra/event-store/index.js';

const REPUTATION_TYPES = new Set(['ReputationWarning', 'ReputationRecovered', 'SendingPaused', 'SendingResumed']);

/** A server's reputation guard state, folded from its stream, and the revision to append after. */
export async function loadReputation(
  store: Pick<EventStore, 'readStream'>,
  serverId: string,
): Promise<{ state: ReputationState; revision: ExpectedRevision }> {
  const recorded = await store.readStream(reputationStreamId(serverId));
  const events: ReputationEvent[] = [];
  for (const r of recorded) {
    const d = tenancyEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (!d.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.error.code}`);
    if (REPUTATION_TYPES.has(d.value.type)) events.push(d.value as ReputationEvent);
  }
  return {
    state: reputationStateOf(events),
    revision: recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.revision,
  };
}

/** The pause that holds new mail of the server from `fromDomain`, or undefined: it goes on. */
export async function reputationPause(store: Pick<EventStore, 'readStream'>, serverId: string, fromDomain: string) {
  return pauseHolding((await loadReputation(store, serverId)).state, fromDomain);
}
