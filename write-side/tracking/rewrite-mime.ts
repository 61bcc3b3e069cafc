import { encodeBody } from '../send/mime-bytes.js';
import { allEntities, fieldValue, parseMimeMessage, type MimeEntity } from './mime-entities.js';

/**
 * Rewrites the HTML of a raw message (SMTP submission, send/raw) in place: each text/html leaf
 * part, at any depth of multipart/alternative, mixed or related, is decoded (transfer encoding),
 * given to `rewrite`, and written back in its own transfer encoding. Only those parts' bodies
 * change (and, where a 7bit or 8bit part would get a line over 998 octets, its
 * Content-Transfer-Encoding field, to quoted-printable); every other byte of the message is kept.
 */

/** The HTML, one character per byte (latin1); `decode` reads a piece of it in the part's charset (for URLs). */
export type HtmlRewrite = (html: string, decode: (bytes: string) => string) => string;

/** Why a message is sent as it is: its signature (or encryption) covers the bytes tracking would change. */
export type UntrackableReason = 'signed-or-encrypted' | 'dkim-signed';

export interface RewrittenMessage {
  raw: Buffer;
  /** How many HTML parts changed. */
  rewritten: number;
  untrackable?: UntrackableReason;
}

/** Types whose content a signature or encryption covers (RFC 1847, S/MIME): any of them leaves the message alone. */
const SEALED = new Set([
  'multipart/signed',
  'multipart/encrypted',
  'application/pkcs7-mime',
  'application/x-pkcs7-mime',
]);

/**
 * Charsets in which every byte below 0x80 is the ASCII character (UTF-8, single-byte sets, EUC):
 * there, `<a href="…">` and `</body>` are found in the bytes and the tracking markup (ASCII) is
 * written in, while every other byte, valid in the charset or not, stays as it was, without a
 * decode and re-encode. In Shift_JIS, Big5, GBK, ISO-2022-* or UTF-16 a byte such as `"` or `h`
 * can be half of another character: those parts are left untracked.
 */
const ASCII_COMPATIBLE =
  /^(?:us-ascii|ascii|utf-?8|iso[-_]?8859-\d{1,2}|latin-?\d|(?:windows|cp)-?125\d|koi8-[ru]|euc-(?:jp|kr)|gb2312)$/;

const MAX_LINE_OCTETS = 998;
const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
const SOFT_BREAK = Buffer.from('=\r\n');

/** Why the message must be sent as it is, if it must. */
export function untrackableReason(root: MimeEntity): UntrackableReason | undefined {
  if (allEntities(root).some((e) => SEALED.has(e.type))) return 'signed-or-encrypted';
  // The sender signed the message with DKIM: its body hash (bh=) covers the HTML, so rewriting a
  // link would break the sender's own signature, and with it DMARC where that signature was the
  // aligned one. Mail that is already signed goes out as it was signed. (Postal rewrites it anyway.)
  if (root.fields.some((f) => f.name === 'dkim-signature')) return 'dkim-signed';
  return undefined;
}

/** An HTML part that can be rewritten, read once: its body decoded, one character per byte. */
interface HtmlPart {
  entity: MimeEntity;
  html: string;
  charset: string;
  encoding: string;
  endsWithBreak: boolean;
}

/**
 * What rewriting a message's HTML works on: the message read once (its tree, its HTML parts
 * decoded), so that each recipient's copy costs only the rewrite itself.
 */
export type HtmlRewritePlan =
  | { raw: Buffer; parts: HtmlPart[]; untrackable?: undefined }
  | { raw: Buffer; parts: []; untrackable: UntrackableReason };

export function planHtmlRewrite(raw: Buffer): HtmlRewritePlan {
  const root = parseMimeMessage(raw);
  const untrackable = untrackableReason(root);
  if (untrackable) return { raw, parts: [], untrackable };
  const parts = allEntities(root).flatMap((entity) => {
    const part = htmlPart(raw, entity);
    return part ? [part] : [];
  });
  return { raw, parts };
}

export function rewriteHtmlParts(raw: Buffer, rewrite: HtmlRewrite): RewrittenMessage {
  return applyHtmlRewrite(planHtmlRewrite(raw), rewrite);
}

/** One copy of the planned message with its HTML parts rewritten. */
export function applyHtmlRewrite(plan: HtmlRewritePlan, rewrite: HtmlRewrite): RewrittenMessage {
  const { raw } = plan;
  if (plan.untrackable) return { raw, rewritten: 0, untrackable: plan.untrackable };
  const edits: { start: number; end: number; bytes: Buffer }[] = [];
  let rewritten = 0;
  for (const part of plan.parts) {
    const changed = rewritePart(part, rewrite);
    if (!changed) continue;
    edits.push(...changed);
    rewritten++;
  }
  if (edits.length === 0) return { raw, rewritten: 0 };
  edits.sort((a, b) => a.start - b.start);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    chunks.push(raw.subarray(at, e.start), e.bytes);
    at = e.end;
  }
  chunks.push(raw.subarray(at));
  return { raw: Buffer.concat(chunks), rewritten };
}

/** The entity as an HTML part to rewrite, if it is an HTML body part this can read. */
function htmlPart(raw: Buffer, entity: MimeEntity): HtmlPart | undefined {
  if (entity.type !== 'text/html' || entity.children.length > 0) return undefined;
  // an attached .html file is a file, not the message's body
  if (/^\s*attachment\b/i.test(fieldValue(entity, 'content-disposition') ?? '')) return undefined;
  // no empty line after the header: there is no body to rewrite
  if (entity.bodyStart !== entity.headerEnd + 2) return undefined;
  const charset = (entity.params.charset ?? 'us-ascii').trim().toLowerCase();
  if (!ASCII_COMPATIBLE.test(charset)) return undefined;
  const encoding = (fieldValue(entity, 'content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  const body = raw.subarray(entity.bodyStart, entity.end);
  const decoded = decodeTransfer(body, encoding);
  if (!decoded) return undefined;
  return { entity, html: decoded.toString('latin1'), charset, encoding, endsWithBreak: endsWithCrlf(body) };
}

/** The edits that rewrite one HTML part, if the rewrite changes it. */
function rewritePart(
  part: HtmlPart,
  rewrite: HtmlRewrite,
): { start: number; end: number; bytes: Buffer }[] | undefined {
  const { entity, html, encoding, endsWithBreak } = part;
  const out = rewrite(html, charsetDecoder(part.charset));
  if (out === html) return undefined;
  const bytes = Buffer.from(out, 'latin1');
  if (encoding === 'base64') {
    return [{ start: entity.bodyStart, end: entity.end, bytes: base64Lines(bytes, endsWithBreak) }];
  }
  if (encoding === 'quoted-printable' || longestLine(bytes) > MAX_LINE_OCTETS) {
    // a soft line break ends the body where its last line did (a message's last line ends with CRLF)
    const encoded = quotedPrintable(bytes);
    const edits = [
      {
        start: entity.bodyStart,
        end: entity.end,
        bytes: endsWithBreak && !endsWithCrlf(encoded) ? Buffer.concat([encoded, SOFT_BREAK]) : encoded,
      },
    ];
    if (encoding !== 'quoted-printable') edits.push(transferEncodingField(entity));
    return edits;
  }
  // a pixel added after the last line break (HTML without </body>) gets a line end of its own
  const ended = endsWithBreak && !endsWithCrlf(bytes) ? Buffer.concat([bytes, CRLF]) : bytes;
  return [{ start: entity.bodyStart, end: entity.end, bytes: ended }];
}

const endsWithCrlf = (b: Buffer) => b.length >= 2 && b[b.length - 2] === CR && b[b.length - 1] === LF;

/** The body's bytes without their transfer encoding; undefined for an encoding this does not know. */
function decodeTransfer(body: Buffer, encoding: string): Buffer | undefined {
  if (encoding === '7bit' || encoding === '8bit' || encoding === 'binary') return body;
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  if (encoding === 'base64') return Buffer.from(body.toString('latin1'), 'base64');
  return undefined;
}

/** RFC 2045 §6.7: `=XX` octets, soft line breaks (`=` at a line's end), trailing white space dropped. */
export function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length);
  let n = 0;
  const hex = (b: number | undefined) =>
    b === undefined
      ? -1
      : b >= 0x30 && b <= 0x39
        ? b - 0x30
        : b >= 0x41 && b <= 0x46
          ? b - 0x37
          : b >= 0x61 && b <= 0x66
            ? b - 0x57
            : -1;
  const lineEndAfterSpace = (i: number) => {
    let j = i;
    while (body[j] === 0x20 || body[j] === 0x09) j++;
    return j >= body.length || (body[j] === CR && body[j + 1] === LF) ? j : -1;
  };
  for (let i = 0; i < body.length; i++) {
    const b = body[i]!;
    if (b === 0x3d) {
      const high = hex(body[i + 1]);
      const low = hex(body[i + 2]);
      if (high >= 0 && low >= 0) {
        out[n++] = high * 16 + low;
        i += 2;
        continue;
      }
      const end = lineEndAfterSpace(i + 1);
      if (end !== -1) {
        i = end + 1; // the soft line break and its CRLF
        continue;
      }
    } else if (b === 0x20 || b === 0x09) {
      const end = lineEndAfterSpace(i);
      if (end !== -1) {
        i = end - 1; // white space at a line's end was added in transport
        continue;
      }
    }
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** Quoted-printable with nodemailer's encoder, every line at most 76 characters; a lone CR or LF stays data. */
function quotedPrintable(bytes: Buffer): Buffer {
  return encodeBody(bytes, 'quoted-printable', true) ?? Buffer.from(bytes.toString('base64'));
}

/** Base64 in lines of 76, ending with a line break where the original body did. */
function base64Lines(bytes: Buffer, endsWithBreak: boolean): Buffer {
  const lines = bytes.toString('base64').match(/.{1,76}/g) ?? [];
  return Buffer.from(lines.join('\r\n') + (endsWithBreak ? '\r\n' : ''), 'latin1');
}

/** The part's Content-Transfer-Encoding field, replaced (or added) to say quoted-printable. */
function transferEncodingField(entity: MimeEntity): { start: number; end: number; bytes: Buffer } {
  const bytes = Buffer.from('Content-Transfer-Encoding: quoted-printable\r\n');
  const field = entity.fields.find((f) => f.name === 'content-transfer-encoding');
  return field
    ? { start: field.start, end: field.end, bytes }
    : { start: entity.headerEnd, end: entity.headerEnd, bytes };
}

function longestLine(bytes: Buffer): number {
  let longest = 0;
  let start = 0;
  for (let lf = bytes.indexOf(LF); lf !== -1; lf = bytes.indexOf(LF, start)) {
    longest = Math.max(longest, lf - start - (bytes[lf - 1] === CR ? 1 : 0));
    start = lf + 1;
  }
  return Math.max(longest, bytes.length - start);
}

function charsetDecoder(charset: string): (bytes: string) => string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    decoder = new TextDecoder('latin1');
  }
  return (bytes) => decoder.decode(Buffer.from(bytes, 'latin1'));
}
