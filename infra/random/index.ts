import { randomFillSync } from 'node:crypto';

/**
 * Cryptographically random bytes, drawn from a buffer filled by the CSPRNG a few kilobytes at a
 * time. Every message takes random bytes several times (tracking token, MIME boundaries); one
 * system call per call cost more than the rest of making them. Node's own
 * randomUUID() keeps such a cache too. Bytes are handed out once and never reused.
 */
const POOL_BYTES = 8192;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `n` random bytes (a copy, so later draws never change them). */
export function randomBytesPooled(n: number): Buffer {
  if (n > POOL_BYTES / 4) return randomFillSync(Buffer.alloc(n));
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return out;
}
