import { isAscii } from 'node:buffer';
import { crlfLines } from '../../domain/index.js';

/**
 * Quoted-printable (RFC 2045 §6.7) over bytes, giving exactly the bytes nodemailer's QP Encoder
 * stream writes for the same input written in one chunk (a differential property test holds it to
 * that, test/unit/quoted-printable.test.ts): the same literal characters, the same soft line breaks
 * at 76 (after a blank or punctuation near the end of a line, never inside an =XX escape or a UTF-8
 * sequence), the same 64 KB slices.
 *
 * nodemailer encodes into a string and wraps it with regular expressions and substrings, about
 * 1.1 ms per 100 KB. Here ASCII text whose only escapes are "=" (most text and HTML) is checked
 * with native searches and wrapped with string searches (wrapPlain, ~0.2 ms); anything else is one
 * pass over the input and one over the escaped bytes, in Buffers (~0.65 ms).
 */

/** Bytes written as they are (RFC 2045 §6.7 rules 2 and 3): TAB, LF, CR, and printable ASCII but "=". */
const LITERAL = new Uint8Array(256);
for (let b = 0; b < 256; b++)
  LITERAL[b] = b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b <= 0x7e && b !== 0x3d) ? 1 : 0;
/** Literal bytes that are never a line break or a blank: written as they are wherever they stand. */
const PLAIN = LITERAL.map((l, b) => (l === 1 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x20 ? 1 : 0));
/** The control characters that make a text not plain for nodemailer (TAB, LF and CR do not; DEL does not). */
const CONTROL = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) CONTROL[b] = b === 0x09 || b === 0x0a || b === 0x0d ? 0 : 1;
const HEX = Buffer.from('0123456789ABCDEF', 'latin1');
const EQ = 0x3d;
const CR = 0x0d;
const LF = 0x0a;
/** nodemailer's slice: the input is escaped and wrapped this many bytes at a time. */
const SLICE = 64 * 1024;

const isBlank = (b: number | undefined) => b === 0x20 || b === 0x09;
const isHex = (b: number | undefined) =>
  b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
/** Where a line may be broken for readability: after a blank or one of . , ! ? */
const isBreak = (b: number) => b === 0x20 || b === 0x09 || b === 0x2e || b === 0x2c || b === 0x21 || b === 0x3f;
const hexValue = (b: number) => (b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10);

/**
 * The input quoted-printable encoded in lines of at most `lineLength` (76); `binary`: only CRLF
 * pairs are line breaks, a lone CR or LF is data and escaped (for content that is not text).
 */
export function encodeQuotedPrintable(input: Buffer, binary: boolean, lineLength = 76): Buffer {
  return encode(input, binary, lineLength, false)!;
}

/**
 * Text (not binary) quoted-printable encoded as encodeQuotedPrintable does, or undefined as soon as
 * a control character shows (one of U+0000–U+0008, U+000B, U+000C, U+000E–U+001F: the ones that
 * make nodemailer's isPlainText() false). With an ASCII input that tells whether the text is plain
 * in the pass that encodes it, instead of a regular expression over the whole text first (~390 µs
 * per 100 KB).
 */
export function encodeQuotedPrintableIfPlain(input: Buffer, lineLength = 76): Buffer | undefined {
  return encode(input, false, lineLength, true);
}

function encode(input: Buffer, binary: boolean, lineLength: number, plainOnly: boolean): Buffer | undefined {
  const out = new Output(input.length);
  // blanks (and, binary, a CR) that end the input are escaped once it is known that nothing follows
  let end = input.length;
  while (end > 0 && (isBlank(input[end - 1]) || (binary && input[end - 1] === CR))) end--;
  if (input.length - end > SLICE) end = input.length;
  let line: Buffer = Buffer.alloc(0);
  let last: number | undefined;
  const slices = (from: number, to: number): boolean => {
    for (let start = from; start < to; start += SLICE) {
      const stop = Math.min(start + SLICE, to);
      const next = stop < to ? input[stop] : undefined;
      const mark = out.length;
      if (!binary && wrapPlain(line, input, start, stop, next, lineLength, out)) {
        line = out.takeAfterLastLf(mark);
        last = input[stop - 1];
        continue;
      }
      const escaped = escapeSlice(input, start, stop, next, binary, last, plainOnly);
      if (!escaped) return false;
      wrap(line.length > 0 ? Buffer.concat([line, escaped]) : escaped, lineLength, out);
      // the last line waits: whether it needs a soft break depends on what comes next
      line = out.takeAfterLastLf(mark);
      last = input[stop - 1];
    }
    return true;
  };
  if (!slices(0, end) || !slices(end, input.length)) return undefined;
  out.write(line, 0, line.length);
  return out.result();
}

/**
 * input[start, stop) escaped: `next` is the byte after it (undefined: the end of the input, so a
 * blank before it is escaped), `previous` the byte before it (for a binary LF that ends a CRLF).
 * `plainOnly`: undefined at the first control character (see encodeQuotedPrintableIfPlain).
 */
function escapeSlice(
  input: Buffer,
  start: number,
  stop: number,
  next: number | undefined,
  binary: boolean,
  previous: number | undefined,
  plainOnly: boolean,
): Buffer | undefined {
  const out = scratch((stop - start) * 3);
  let n = 0;
  for (let i = start; i < stop; i++) {
    const b = input[i]!;
    if (PLAIN[b] === 1) {
      out[n++] = b;
      continue;
    }
    if (plainOnly && CONTROL[b] === 1) return undefined;
    const following = i + 1 < stop ? input[i + 1] : next;
    let literal = LITERAL[b] === 1;
    if (literal && binary && (b === CR || b === LF))
      literal = b === CR ? following === LF : (i > start ? input[i - 1] : previous) === CR;
    // a blank that ends a line (or the input) is escaped: transports strip trailing blanks
    if (literal && isBlank(b) && (following === undefined || following === LF || following === CR)) literal = false;
    if (literal) out[n++] = b;
    else {
      out[n++] = EQ;
      out[n++] = HEX[b >> 4]!;
      out[n++] = HEX[b & 15]!;
    }
  }
  return out.subarray(0, n);
}

/** What escapeSlice() writes into: reused, as each escaped slice is read before the next is made. */
let scratchBuffer = Buffer.allocUnsafe(0);
function scratch(size: number): Buffer {
  if (scratchBuffer.length < size) scratchBuffer = Buffer.allocUnsafe(Math.max(size, 3 * SLICE));
  return scratchBuffer;
}

/** The escaped text `s` into `out` with soft line breaks ("=" CRLF): no line longer than `lineLength`. */
function wrap(s: Buffer, lineLength: number, out: Output): void {
  const len = s.length;
  if (len <= lineLength) {
    out.write(s, 0, len);
    return;
  }
  const margin = Math.floor(lineLength / 3);
  let pos = 0;
  while (pos < len) {
    const windowEnd = Math.min(pos + lineLength, len);
    const windowLength = windowEnd - pos;
    // a hard line break inside the window ends the line there
    const crlf = firstCrlf(s, pos, windowEnd);
    if (crlf !== -1) {
      out.write(s, pos, crlf + 2);
      pos = crlf + 2;
      continue;
    }
    if (s[windowEnd - 1] === LF) {
      out.write(s, pos, windowEnd);
      pos = windowEnd;
      continue;
    }
    const tailStart = windowEnd - Math.min(margin, windowLength);
    const lf = lastLfWithoutCrAfter(s, tailStart, windowEnd);
    if (lf !== -1) {
      out.write(s, pos, lf + 1);
      pos = lf + 1;
      continue;
    }
    let lineEnd = windowEnd;
    const breakAt = windowLength > lineLength - margin ? lastBreak(s, tailStart, windowEnd) : -1;
    if (breakAt !== -1) lineEnd = breakAt + 1;
    else if (endsInEscape(s, pos, lineEnd, 2)) {
      // an escape the window cuts goes to the next line whole
      if (endsInEscape(s, pos, lineEnd, 1)) lineEnd -= s[lineEnd - 1] === EQ ? 1 : 2;
      // and so does a UTF-8 sequence: back to the escape of its lead byte
      while (lineEnd - pos > 3 && lineEnd - pos < len - pos && !onlyEscapes(s, pos, lineEnd)) {
        if (!(lineEnd - pos >= 3 && s[lineEnd - 3] === EQ && isHex(s[lineEnd - 2]) && isHex(s[lineEnd - 1]))) break;
        const code = hexValue(s[lineEnd - 2]!) * 16 + hexValue(s[lineEnd - 1]!);
        if (code < 128) break;
        lineEnd -= 3;
        if (code >= 0xc0) break;
      }
    }
    // only an escape cut at the very end of the input empties the line: taken as it is
    if (lineEnd === pos) lineEnd = windowEnd;
    if (lineEnd < len && s[lineEnd - 1] !== LF) {
      const lineLengthNow = lineEnd - pos;
      if (lineLengthNow === lineLength && endsInFullEscape(s, pos, lineEnd)) lineEnd -= 3;
      else if (lineLengthNow === lineLength) lineEnd -= 1;
      out.write(s, pos, lineEnd);
      out.softBreak();
    } else out.write(s, pos, lineEnd);
    pos = lineEnd;
  }
}

/** The bytes of CONTROL, for native searches. */
const CONTROL_BYTES = [...CONTROL.keys()].filter((b) => CONTROL[b] === 1);
const DEL = 0x7f;

/**
 * Whether the bytes hold a control character that makes a text not plain for nodemailer (see
 * CONTROL): one native search per character, ~30 µs per 100 KB where a regular expression over
 * the text took ~140 and nodemailer's isPlainText() ~400.
 */
export function hasControlCharacter(bytes: Buffer): boolean {
  return CONTROL_BYTES.some((b) => bytes.indexOf(b) !== -1);
}

/**
 * The usual text, the fast way: when input[start, stop) is ASCII with nothing to escape but "="
 * (no control character, no blank before a line end, every line end a CRLF) and `line` (the
 * escaped text carried over: the part after its last line break) holds no escape but "=3D", the
 * escaped slice is the slice with each "=" written "=3D", and wrap() comes down to its soft
 * breaks, found here with string searches (V8's String indexOf and slice cost a few nanoseconds a
 * call, where a Buffer call costs about a hundred and a byte loop one or two a byte). Writes the
 * lines to `out` as wrap() would and returns true; false, having written nothing, for any other
 * slice (escapeSlice and wrap() take it). About 0.2 ms per 100 KB of 80-byte lines against 0.65.
 */
function wrapPlain(
  line: Buffer,
  input: Buffer,
  start: number,
  stop: number,
  next: number | undefined,
  lineLength: number,
  out: Output,
): boolean {
  // a blank that ends the input or stands before a line end in the next slice is escaped
  if (isBlank(input[stop - 1]) && (next === undefined || next === CR || next === LF)) return false;
  const slice = input.subarray(start, stop);
  // native searches over the bytes (a regular expression over the string was slower than all of them)
  if (!isAscii(slice) || hasControlCharacter(slice) || slice.indexOf(DEL) !== -1) return false;
  const carried = line.toString('latin1');
  if (carried.replaceAll('=3D', '').includes('=')) return false;
  const s = carried + slice.toString('latin1').replaceAll('=', '=3D');
  const lines = crlfLines(s);
  if (!lines.crlfOnly || lines.blankAtLineEnd) return false;
  const len = s.length;
  if (len <= lineLength) {
    out.writeLatin1(s);
    return true;
  }
  const margin = Math.floor(lineLength / 3);
  // the text is written in pieces that end at soft breaks: lines that need none are not cut out
  let wrapped = '';
  let written = 0;
  let crlf = s.indexOf('\r\n');
  let pos = 0;
  while (pos < len) {
    const windowEnd = Math.min(pos + lineLength, len);
    const windowLength = windowEnd - pos;
    if (crlf !== -1 && crlf < pos) crlf = s.indexOf('\r\n', pos);
    // a hard line break inside the window ends the line there
    if (crlf !== -1 && crlf + 1 < windowEnd) {
      pos = crlf + 2;
      continue;
    }
    // (wrap()'s cases for an LF without its CR do not arise: every line end here is a CRLF)
    let lineEnd = windowEnd;
    const breakAt =
      windowLength > lineLength - margin ? lastBreakIn(s, windowEnd - Math.min(margin, windowLength), windowEnd) : -1;
    if (breakAt !== -1) lineEnd = breakAt + 1;
    // an "=3D" the window cuts goes to the next line whole (wrap()'s walk back over a UTF-8
    // sequence stops at once here: 0x3D is ASCII)
    else if (s.charCodeAt(lineEnd - 1) === EQ) lineEnd -= 1;
    else if (s.charCodeAt(lineEnd - 2) === EQ && lineEnd - 2 >= pos) lineEnd -= 2;
    if (lineEnd === pos) lineEnd = windowEnd;
    if (lineEnd < len) {
      const lineLengthNow = lineEnd - pos;
      if (lineLengthNow === lineLength && s.charCodeAt(lineEnd - 3) === EQ) lineEnd -= 3;
      else if (lineLengthNow === lineLength) lineEnd -= 1;
      wrapped += `${s.slice(written, lineEnd)}=\r\n`;
      written = lineEnd;
    }
    pos = lineEnd;
  }
  out.writeLatin1(written === 0 ? s : wrapped + s.slice(written));
  return true;
}

/** The last break character in s[from, to), or -1 (lastBreak over a string). */
function lastBreakIn(s: string, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) if (isBreak(s.charCodeAt(i))) return i;
  return -1;
}

/** The first CRLF wholly in s[from, to), or -1. */
function firstCrlf(s: Buffer, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) if (s[i] === CR && s[i + 1] === LF) return i;
  return -1;
}

/** The last LF in s[from, to) with no CR or LF after it in the range (nodemailer's /\n.*?$/), or -1. */
function lastLfWithoutCrAfter(s: Buffer, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) {
    if (s[i] === LF) return i;
    if (s[i] === CR) return -1;
  }
  return -1;
}

/** The last break character in s[from, to), or -1. */
function lastBreak(s: Buffer, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) if (isBreak(s[i]!)) return i;
  return -1;
}

/** s[pos, end) ends with "=" and at most `digits` hex digits after it (nodemailer's /[=][\da-f]{0,n}$/i). */
function endsInEscape(s: Buffer, pos: number, end: number, digits: 1 | 2): boolean {
  for (let k = 0; k <= digits && end - 1 - k >= pos; k++) {
    if (s[end - 1 - k] === EQ) return true;
    if (!isHex(s[end - 1 - k])) return false;
  }
  return false;
}

/** s[pos, end) ends with a whole "=XX". */
function endsInFullEscape(s: Buffer, pos: number, end: number): boolean {
  return end - pos >= 3 && s[end - 3] === EQ && isHex(s[end - 2]) && isHex(s[end - 1]);
}

/** s[pos, end) is one to four escapes and nothing else. */
function onlyEscapes(s: Buffer, pos: number, end: number): boolean {
  const n = end - pos;
  if (n % 3 !== 0 || n < 3 || n > 12) return false;
  for (let i = pos; i < end; i += 3) if (s[i] !== EQ || !isHex(s[i + 1]) || !isHex(s[i + 2])) return false;
  return true;
}

/** A growing Buffer: lines of escaped text, each soft break 3 bytes more. */
class Output {
  private buf: Buffer;
  private n = 0;
  constructor(expected: number) {
    this.buf = Buffer.allocUnsafe(expected + (expected >> 4) + 64);
  }
  write(s: Buffer, from: number, to: number): void {
    this.room(to - from);
    this.n += s.copy(this.buf, this.n, from, to);
  }
  /** A string of bytes 0–255 (latin1), as its bytes. */
  writeLatin1(s: string): void {
    this.room(s.length);
    this.n += this.buf.write(s, this.n, 'latin1');
  }
  softBreak(): void {
    this.room(3);
    this.buf[this.n++] = EQ;
    this.buf[this.n++] = CR;
    this.buf[this.n++] = LF;
  }
  get length(): number {
    return this.n;
  }
  /** What was written after the last LF since `mark`, taken out (a copy). */
  takeAfterLastLf(mark: number): Buffer {
    let i = this.n - 1;
    while (i >= mark && this.buf[i] !== LF) i--;
    const tail = Buffer.from(this.buf.subarray(i + 1, this.n));
    this.n = i + 1;
    return tail;
  }
  result(): Buffer {
    return this.buf.subarray(0, this.n);
  }
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + k));
    this.buf.copy(bigger, 0, 0, this.n);
    this.buf = bigger;
  }
}
