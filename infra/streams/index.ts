import type { Transform, TransformCallback } from 'node:stream';

/** The methods a Transform's implementer provides (node:stream calls them; so does transformSync). */
interface TransformImplementation {
  /** 'buffer': the chunk is a Buffer (as node:stream says for a written Buffer). */
  _transform(chunk: Buffer, encoding: BufferEncoding | 'buffer', callback: TransformCallback): void;
  _flush?(callback: TransformCallback): void;
  push(chunk: unknown, encoding?: BufferEncoding): boolean;
}

/**
 * Runs a Transform over the whole input at once, without the stream machinery around it.
 *
 * nodemailer's encoders, DKIM body hasher and header parser are Transforms; driven through
 * pipes, one message costs dozens of event-loop turns for microseconds of work, and even a
 * synchronous `end()` and `read()` spend more in Writable and Readable bookkeeping than a 3 KB
 * message costs to encode. This calls the implementation's own `_transform` (with the input as
 * one chunk) and `_flush`, collecting what they push, which is all that node:stream does with
 * them for a single write followed by end.
 *
 * Returns undefined when the transform did not finish synchronously (one that works
 * asynchronously calls back later) or failed: the caller then uses its streaming path, with a
 * new transform, which reports the error.
 */
export function transformSync(transform: Transform, input: Buffer): Buffer | undefined {
  const t = transform as unknown as TransformImplementation;
  const parts: Buffer[] = [];
  const collect = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (typeof chunk === 'string') parts.push(Buffer.from(chunk, encoding));
    else if (Buffer.isBuffer(chunk)) parts.push(chunk);
    else if (chunk instanceof Uint8Array) parts.push(Buffer.from(chunk));
    return true;
  };
  let steps = 0;
  let failed = false;
  const done: TransformCallback = (error, data) => {
    if (error) failed = true;
    else if (data !== undefined && data !== null) collect(data);
    steps++;
  };
  const ownPush = Object.hasOwn(t, 'push') ? t.push : undefined;
  t.push = collect;
  try {
    t._transform(input, 'buffer', done);
    if (steps !== 1 || failed) return undefined;
    if (t._flush) t._flush(done);
    else steps++;
    if (steps !== 2 || failed) return undefined;
    // one chunk (a parser passing the rest of its input on, an encoder that wrote all at once) as it is: no copy
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  } catch {
    return undefined;
  } finally {
    // the transform's own push again: what an asynchronous transform pushes later goes to its
    // readers (its late callback still reaches `collect`, into parts nobody reads any more)
    if (ownPush) t.push = ownPush;
    else delete (t as Partial<TransformImplementation>).push;
  }
}
