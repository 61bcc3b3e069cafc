import { connect, type Socket } from 'node:net';
import { err, ok, type Result } from '../../domain/result.js';
import type { ScanError, ScannerName } from './verdict.js';

/** Where a daemon listens: a TCP host and port, or a Unix socket path. */
export type DaemonAddress = { host: string; port: number } | { path: string };

export const describeAddress = (a: DaemonAddress) => ('path' in a ? a.path : `${a.host}:${a.port}`);

export interface Exchange {
  scanner: ScannerName;
  address: DaemonAddress;
  /** Written in order, then our side of the connection is closed (the daemons answer at end of input or framing). */
  request: Buffer[];
  timeoutMs: number;
  /** An answer longer than this is refused (a daemon gone wrong must not fill our memory). */
  maxAnswerBytes: number;
  /**
   * What it means when the daemon resets the connection while we are still sending and we have read
   * no answer: its answer, if it gave one, may be lost with the connection (see below). Without
   * this, SCANNER_PROTOCOL_ERROR.
   */
  whenResetWhileSending?: (sentBytes: number) => Promise<Result<Buffer, ScanError>>;
}

/**
 * One request and its answer over a fresh connection, as spamd and clamd speak: the daemon answers
 * and closes. Every way it can go wrong ends in an error value within `timeoutMs`: nothing listening,
 * silence, an endless answer. A daemon that closes while we still write (clamd past its
 * StreamMaxLength) has answered first, and its answer is in our kernel's receive buffer; but when
 * our write fails before Node has read it, Node destroys the socket on the write error and the
 * answer is gone. We read it whenever we can (one part at a time, below); when we could not,
 * `whenResetWhileSending` says what the reset means.
 */
export function exchange(x: Exchange): Promise<Result<Buffer, ScanError>> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    let writeError: Error | undefined;
    // bytes of the request handed to the kernel, and whether all of it was (then our side is ended)
    let sentBytes = 0;
    let sentAll = false;
    const fail = (code: ScanError['code'], message: string) => finish(err({ code, scanner: x.scanner, message }));
    const finish = (result: Result<Buffer, ScanError> | Promise<Result<Buffer, ScanError>>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const where = describeAddress(x.address);
    const socket: Socket = 'path' in x.address ? connect(x.address.path) : connect(x.address.port, x.address.host);
    const timer = setTimeout(
      () => fail('SCANNER_TIMEOUT', `${x.scanner} at ${where} did not answer within ${x.timeoutMs} ms`),
      x.timeoutMs,
    );
    // One part at a time, each written before the next, with a turn of the event loop between: a
    // daemon that answers early (clamd past its StreamMaxLength) and resets the connection is read
    // before a write into the reset socket destroys it, and nothing more is sent once it answered.
    socket.on('connect', async () => {
      for (const part of x.request) {
        if (settled || received > 0 || writeError) return;
        await new Promise<void>((resolve) =>
          socket.write(part, (e) => {
            if (!e) sentBytes += part.length;
            resolve();
          }),
        );
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (!settled && received === 0 && !writeError) {
        sentAll = true;
        socket.end();
      }
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > x.maxAnswerBytes)
        return fail('SCANNER_PROTOCOL_ERROR', `${x.scanner} at ${where} answered more than ${x.maxAnswerBytes} bytes`);
      chunks.push(chunk);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!socket.connecting && (e.code === 'EPIPE' || e.code === 'ECONNRESET')) {
        // the daemon stopped reading: its answer (if any) may still be in flight or already read
        writeError = e;
        if (received > 0) return finish(ok(Buffer.concat(chunks)));
        return;
      }
      fail('SCANNER_UNREACHABLE', `${x.scanner} at ${where}: ${e.code ?? e.message}`);
    });
    socket.on('close', () => {
      if (received > 0) return finish(ok(Buffer.concat(chunks)));
      if (writeError && !sentAll && x.whenResetWhileSending) return finish(x.whenResetWhileSending(sentBytes));
      const why = writeError ? ` (${(writeError as NodeJS.ErrnoException).code})` : '';
      fail('SCANNER_PROTOCOL_ERROR', `${x.scanner} at ${where} closed the connection without an answer${why}`);
    });
  });
}
