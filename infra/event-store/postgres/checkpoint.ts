import { START, type Checkpoint } from '../port.js';

/**
 * A Postgres checkpoint is the (transaction id, position) of an event: readers order by that pair
 * because positions are handed out before commit and commits land out of order.
 */
export interface PgCheckpoint {
  transactionId: string;
  position: string;
}

export function encodeCheckpoint(transactionId: string, position: number | string): Checkpoint {
  return `${transactionId}:${position}`;
}

export function decodeCheckpoint(checkpoint: Checkpoint): PgCheckpoint {
  if (checkpoint === START) return { transactionId: '0', position: '0' };
  const match = /^(\d+):(\d+)$/.exec(checkpoint);
  if (!match) throw new Error(`not a Postgres event-store checkpoint: ${JSON.stringify(checkpoint)}`);
  return { transactionId: match[1]!, position: match[2]! };
}

/** Orders two checkpoints of this store: negative when a comes first. */
export function compareCheckpoints(a: Checkpoint, b: Checkpoint): number {
  const x = decodeCheckpoint(a);
  const y = decodeCheckpoint(b);
  const tx = BigInt(x.transactionId) - BigInt(y.transactionId);
  if (tx !== 0n) return tx < 0n ? -1 : 1;
  const pos = BigInt(x.position) - BigInt(y.position);
  return pos === 0n ? 0 : pos < 0n ? -1 : 1;
}
