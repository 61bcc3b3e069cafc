import type { Transform, TransformCallback } from 'node:stream';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import { hasOnlyCrlf } from '../../domain/index.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const LF_DOT = Buffer.from('\n.');
const DOT_BYTE = Buffer.from('.');

/**
 * The DATA bytes (RFC 5321 §4.5.2: a dot that starts a line is doubled) of a chunk whose lines all
 * end in CRLF, as nodemailer's DataStream writes them, or undefined when the chunk has a bare CR
 * or LF (DataStream's own loop then turns them into CRLF). `previous` is the last byte of the
 * chunk before (false: none). The chunk itself comes back when nothing is stuffed.
 *
 * DataStream looks at every byte in JavaScript (about 0.5 ms per 100 KB message); this finds the
 * line ends and the dots that start lines with Buffer.indexOf, native searches. Every message the
 * MTA sends is already CRLF throughout (line ends are decided when a message is accepted), so the
 * fallback is for what should not happen.
 */
export function stuffDotsCrlf(chunk: Buffer, previous: number | false): Buffer | undefined {
  // a line end split between two chunks: its LF starts this one
  const from = previous === CR ? 1 : 0;
  if (previous === CR && chunk[0] !== LF) return undefined;
  const to = chunk[chunk.length - 1] === CR ? chunk.length - 1 : chunk.length;
  if (!hasOnlyCrlf(chunk.subarray(from, to))) return undefined;
  const pieces: Buffer[] = [];
  let copied = 0;
  if (chunk[0] === DOT && (previous === LF || previous === false)) {
    pieces.push(DOT_BYTE);
  }
  for (let at = chunk.indexOf(LF_DOT); at !== -1; at = chunk.indexOf(LF_DOT, at + 2)) {
    pieces.push(chunk.subarray(copied, at + 1), DOT_BYTE);
    copied = at + 1;
  }
  if (pieces.length === 0) return chunk;
  pieces.push(chunk.subarray(copied));
  return Buffer.concat(pieces);
}

/** The state nodemailer's DataStream keeps (not in its typings). */
interface DataStreamState extends Transform {
  inByteCount: number;
  outByteCount: number;
  lastByte: number | false;
}

/**
 * DataStream's _transform with stuffDotsCrlf in front: the same bytes and counters, its own loop
 * for chunks that are not CRLF throughout and for strings.
 */
export function fastDataTransform(
  slow: Transform['_transform'],
): (this: DataStreamState, chunk: unknown, encoding: BufferEncoding, done: TransformCallback) => void {
  return function (chunk, encoding, done) {
    const out = Buffer.isBuffer(chunk) && chunk.length > 0 ? stuffDotsCrlf(chunk, this.lastByte) : undefined;
    if (!out) return slow.call(this, chunk, encoding, done);
    const bytes = chunk as Buffer;
    this.inByteCount += bytes.length;
    this.outByteCount += out.length;
    this.push(out);
    this.lastByte = bytes[bytes.length - 1]!;
    done();
  };
}

interface SendStreamInternals {
  _createSendStream?: (callback: (...args: unknown[]) => void) => DataStreamState;
}

/**
 * Makes a connection stuff dots with stuffDotsCrlf. nodemailer gives no way to hand it bytes that
 * are already stuffed, so this wraps its (private) _createSendStream; with a nodemailer that has
 * none, its own DataStream stays as it is (test/unit/dot-stuffing.test.ts notices that).
 */
export function useFastDotStuffing(connection: SMTPConnection): boolean {
  const c = connection as unknown as SendStreamInternals;
  const create = c._createSendStream;
  if (typeof create !== 'function') return false;
  c._createSendStream = function (this: unknown, callback) {
    const stream = create.call(this, callback);
    stream._transform = fastDataTransform(stream._transform) as Transform['_transform'];
    return stream;
  };
  return true;
}
