import type { PreparedAppend } from '../postgres/append-batch.js';
import type { AppendError, AppendSuccess, ExpectedRevision } from '../port.js';
import { START } from '../port.js';
import { encodeCheckpoint } from './checkpoint.js';

/** What an append decision needs to know of the log. */
export interface LogView {
  /** Revision of the stream's last event; -1 when the stream has none. */
  revisionOf(streamId: string): number;
  eventById(eventId: string): { streamId: string; position: number; transaction: number } | undefined;
}

export type AppendDecision =
  | { kind: 'write'; request: PreparedAppend; nextExpectedRevision: number }
  | { kind: 'done'; success: AppendSuccess }
  | { kind: 'refused'; error: AppendError };

/**
 * The outcome of one append, by the rules of postlog_append_batch (the Postgres adapter), in its
 * order: event ids first (all already in this stream: a retry, answered as the original was;
 * some, or any in another stream: DUPLICATE_EVENT_ID), then the expected revision, then an
 * append of no events writes nothing. Pure: the log commits what this decides.
 */
export function decideAppend(log: LogView, request: PreparedAppend): AppendDecision {
  const { streamId, expected, events } = request;
  const current = log.revisionOf(streamId);
  const found = events.map((e) => log.eventById(e.eventId));
  const known = found.filter((f) => f !== undefined);
  if (known.length > 0) {
    const foreign = events.find((_, i) => found[i] !== undefined && found[i]!.streamId !== streamId);
    if (known.length === events.length && !foreign) {
      const last = known.reduce((a, b) => (b.position > a.position ? b : a));
      const checkpoint = encodeCheckpoint(last.transaction, last.position);
      const success = { nextExpectedRevision: current, position: last.position, checkpoint, idempotent: true };
      return { kind: 'done', success };
    }
    const eventId = foreign?.eventId ?? events.find((_, i) => found[i] !== undefined)!.eventId;
    const message = `event id ${eventId} is already used by another append`;
    return { kind: 'refused', error: { code: 'DUPLICATE_EVENT_ID', streamId, eventId, message } };
  }
  if (!revisionMatches(expected, current)) {
    const actual = current === -1 ? 'no_stream' : current;
    return { kind: 'refused', error: { code: 'WRONG_EXPECTED_REVISION', streamId, expected, actual } };
  }
  // nothing to write: Postgres answers position -1 and no checkpoint; START is the nearest valid one
  if (events.length === 0) {
    const success = { nextExpectedRevision: current, position: -1, checkpoint: START, idempotent: true };
    return { kind: 'done', success };
  }
  return { kind: 'write', request, nextExpectedRevision: current + events.length };
}

export function revisionMatches(expected: ExpectedRevision, current: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return current === -1;
    case 'stream_exists':
      return current >= 0;
    default:
      return current === expected;
  }
}
