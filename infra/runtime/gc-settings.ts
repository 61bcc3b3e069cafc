import { setFlagsFromString } from 'node:v8';

/**
 * V8's garbage-collector settings for every Postlog process, set on import: main.ts imports this
 * first, before the heap holds much.
 *
 * By default V8 starts a full (mark-compact) collection each time 64 MB of ArrayBuffer memory has
 * been allocated since the last one, however small the heap. An MTA allocates Buffers for every
 * message it touches (the body read, signed, encoded, written), so with 100 KB messages each
 * process marked its whole heap three times a second: a quarter of the machine's CPU went to V8's
 * marking threads. Counting Buffer memory in the heap's global limit instead (which grows with the
 * heap, as for JS objects) cut Postlog's CPU per delivered 100 KB message by ~28 % and raised its
 * rate by ~30 % in `npm run bench -- delivery`, for some more memory held by garbage Buffers
 * between collections (docs/benchmarks.md).
 */
setFlagsFromString('--external-memory-accounted-in-global-limit');
