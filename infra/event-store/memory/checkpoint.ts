import { START, type Checkpoint } from '../port.js';

/**
 * An in-memory checkpoint has the Postgres adapter's form, "transaction:position" in decimal: the
 * number of the commit that wrote the event, then the event's position. Every commit here is
 * whole and in order, so both numbers grow together; the shared compareCheckpoints orders them.
 */
export interface MemoryCheckpoint {
  transaction: number;
  position: number;
}

export function encodeCheckpoint(transaction: number, position: number): Checkpoint {
  return `${transaction}:${position}`;
}

/** START (and "0:0", which the Postgres decoder makes of it) is before the first event. */
export function decodeCheckpoint(checkpoint: Checkpoint): MemoryCheckpoint {
  if (checkpoint === START) return { transaction: 0, position: 0 };
  const match = /^(\d+):(\d+)$/.exec(checkpoint);
  if (!match) {
    const expected = '(expected "transaction:position")';
    throw new Error(`not an in-memory event-store checkpoint: ${JSON.stringify(checkpoint)} ${expected}`);
  }
  const transaction = Number(match[1]);
  const position = Number(match[2]);
  if (!Number.isSafeInteger(transaction) || !Number.isSafeInteger(position)) {
    throw new Error(`in-memory event-store checkpoint out of range: ${JSON.stringify(checkpoint)}`);
  }
  return { transaction, position };
}
