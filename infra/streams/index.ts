import type { Transform } from 'node:stream';

/**
 * Runs a Transform stream over the whole input at once, without waiting for the event loop.
 *
 * nodemailer's encoders, DKIM body hasher and header parser are Transforms; driven through
 * pipes, one message costs dozens of event-loop turns (each waiting behind everything else the
 * process is doing) for microseconds of work. A Transform handles a write and its end-of-input
 * flush synchronously when nothing is queued ('prefinish' fires once the flush is done); output
 * past its buffer size waits for a read, which lets it go on, still synchronously.
 *
 * Returns undefined when the transform did not finish synchronously (one that works
 * asynchronously, or a Node whose streams behave otherwise) or failed: the caller then uses its
 * streaming path, which reports the error. (A stream emits its error on a later tick; the
 * listener only keeps that from being an uncaught one.)
 */
export function transformSync(transform: Transform, input: Buffer): Buffer | undefined {
  let flushed = false;
  transform.once('prefinish', () => (flushed = true));
  transform.once('error', () => undefined);
  transform.end(input);
  const parts: Buffer[] = [];
  for (;;) {
    const chunk: Buffer | null = transform.read();
    if (chunk !== null) parts.push(chunk);
    else if (flushed) return Buffer.concat(parts);
    else return undefined;
  }
}
