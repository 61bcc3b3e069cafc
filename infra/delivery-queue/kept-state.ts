import { MESSAGE_STATE_VERSION, type MessageState } from '../../domain/index.js';

/**
 * A queued message's state as the queue projection folded it, and the stream revision it folded to
 * (schema.ts, migration 47). The `state` column's one format: written by projection-writes.ts, read
 * by leases.ts.
 */
export interface KeptState {
  state: MessageState;
  revision: number;
}

/** The `state` column's value: the state tagged with the shape it has. */
export function keptStateColumn(kept: KeptState): string {
  return JSON.stringify({ v: MESSAGE_STATE_VERSION, state: kept.state });
}

/** The kept state of a row, or undefined when it has none or one of another version's shape. */
export function keptStateOf(column: unknown, revision: string | null): KeptState | undefined {
  const kept = column as { v?: unknown; state?: MessageState } | null;
  if (!kept || revision === null || kept.v !== MESSAGE_STATE_VERSION || !kept.state) return undefined;
  return { state: kept.state, revision: Number(revision) };
}
