import { isAscii } from 'node:buffer';
import { buildHeaderValue, foldLines, hasLongerLines, isPlainText } from 'nodemailer/lib/mime-funcs';
import MimeNode from 'nodemailer/lib/mime-node';
import { rfc5322Date } from '../../domain/index.js';
import type { ComposeInput } from './compose.js';
import { encodeBody, endWithNewline } from './mime-bytes.js';
import { encodeQuotedPrintableIfPlain, hasControlCharacter } from './quoted-printable.js';

/** The parts of nodemailer's MimeNode used here that its typings leave out. */
interface HeaderEncoder {
  encodeHeaderValue(key: string, value: string | string[]): string;
  _normalizeHeaderKey(key: string): string;
  _getTextEncoding(value: string): 'Q' | 'B';
}

// A node that is never built: only its header encoding is used (it keeps no state between calls).
const encoder = new MimeNode(false) as unknown as HeaderEncoder;

/** Header keys whose values are mailbox lists. */
const ADDRESS_KEYS = new Set(['From', 'Sender', 'To', 'Cc', 'Bcc', 'Reply-To']);
/** Header keys nodemailer encodes in a way of their own (addresses, message ids, dates, structured fields). */
const STRUCTURED = new Set([
  ...ADDRESS_KEYS,
  'Message-ID',
  'In-Reply-To',
  'Content-ID',
  'References',
  'OTP-Token',
  'Date',
  'Content-Type',
  'Content-Disposition',
]);

/** Printable ASCII without '"': an unstructured value nodemailer writes as it is (unless it holds "=?"). */
const PLAIN_TEXT = /^[\x20\x21\x23-\x7e]*$/;
/**
 * A dot-atom local part and a lowercase LDH domain whose last label starts with a letter, with no
 * "--" (so no A-labels): written as they are. (nodemailer reads a domain ending in a number, such
 * as 127.1 or 0x7f.1, as an IPv4 address and writes 127.0.0.1.)
 */
const PLAIN_ADDRESS =
  /^(?!.*--)[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z](?:[a-z0-9-]*[a-z0-9])?$/;
/** `address`, `Name <address>` or `"Name" <address>` with a name of words separated by single spaces. */
const PLAIN_MAILBOX = /^(?:"?([A-Za-z0-9_]+(?: [A-Za-z0-9_]+)*)"? <([^<>\s]+)>|([^<>\s"]+))$/;

/**
 * Keys written here or treated specially by nodemailer's builder (it drops Bcc, replaces a custom
 * header by a field of the message, moves Content-Type): a custom header with one of them goes
 * to nodemailer. The send API refuses them anyway (OWNED_HEADERS).
 */
const OWN_KEYS = new Set([
  'Received',
  'From',
  'Sender',
  'To',
  'Cc',
  'Bcc',
  'Reply-To',
  'Subject',
  'Message-ID',
  'Date',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-Disposition',
]);

const normalizedKeys = new Map<string, string>();
function normalizeKey(key: string): string {
  let normalized = normalizedKeys.get(key);
  if (normalized === undefined) {
    normalized = encoder._normalizeHeaderKey(key);
    if (normalizedKeys.size < 1000) normalizedKeys.set(key, normalized);
  }
  return normalized;
}

/** One mailbox as nodemailer writes it, or undefined when it takes nodemailer's parser to know. */
function plainMailbox(mailbox: string): string | undefined {
  const m = PLAIN_MAILBOX.exec(mailbox);
  if (!m) return undefined;
  const address = m[2] ?? m[3]!;
  if (!PLAIN_ADDRESS.test(address)) return undefined;
  // a quoted name needs both quotes (the pattern lets either stand alone)
  if (m[1] !== undefined && mailbox.startsWith('"') !== mailbox.includes('" <')) return undefined;
  return m[1] !== undefined ? `${m[1]} <${address}>` : address;
}

/** The encoded (unfolded) value of one header, as nodemailer's buildHeaders() encodes it. */
function encodeValue(key: string, value: string | string[]): string {
  if (Array.isArray(value) || ADDRESS_KEYS.has(key)) {
    const mailboxes = Array.isArray(value) ? value : [value];
    const plain = mailboxes.map(plainMailbox);
    return plain.every((p) => p !== undefined) ? plain.join(', ') : encoder.encodeHeaderValue(key, value);
  }
  if (!STRUCTURED.has(key) && PLAIN_TEXT.test(value) && !value.includes('=?')) return value;
  // a message id in angle brackets, printable: nodemailer's clean-up leaves it as it is
  if (key === 'Message-ID' && /^<[\x20-\x7e]*>$/.test(value)) return value;
  return encoder.encodeHeaderValue(key, value);
}

/** "Key: value" folded at 76 as nodemailer folds it; nothing for a value that encodes to blanks (nodemailer drops those). */
function headerLine(key: string, value: string | string[], lines: string[]): void {
  const encoded = encodeValue(key, value);
  if (encoded.trim()) lines.push(foldLines(`${key}: ${encoded}`, 76));
}

/** The transfer encoding nodemailer's getTransferEncoding() picks for a text part. */
function textTransferEncoding(content: string): '7bit' | 'quoted-printable' | 'base64' {
  const plain = isPlainText(content);
  if (plain && !hasLongerLines(content, 76)) return '7bit';
  // _getTextEncoding picks Q when latin letters outnumber control and non-ASCII characters; a
  // plain text has none of the latter, so one letter decides (without counting through it all)
  if (plain) return /[A-Za-z]/.test(content) ? 'quoted-printable' : 'base64';
  return encoder._getTextEncoding(content) === 'Q' ? 'quoted-printable' : 'base64';
}

interface TextPart {
  contentType: string;
  transferEncoding: string;
  body: Buffer;
}

function textPart(contentType: string, content: string): TextPart | undefined {
  const bytes = Buffer.from(content);
  if (isAscii(bytes)) {
    // ASCII: nodemailer's choice (textTransferEncoding) worked out with native searches; its
    // regular expressions took ~1.3 ms per 100 KB of text in short lines (hasLongerLines twice, isPlainText)
    const longer = hasLongerAsciiLines(content, 76);
    // The usual long text: lines past 76, letters in it. nodemailer's choice for it is
    // quoted-printable if it is plain (no control characters), which the encoding pass itself
    // finds out; anything else the long way.
    if (longer && /[A-Za-z]/.test(content)) {
      const body = encodeQuotedPrintableIfPlain(bytes);
      if (body) return textPartOf(contentType, 'quoted-printable', body);
    }
    // short lines, plain: as it is
    if (!longer && !hasControlCharacter(bytes)) return textPartOf(contentType, '7bit', bytes);
  }
  const transferEncoding = textTransferEncoding(content);
  const body = encodeBody(bytes, transferEncoding, false);
  return body && textPartOf(contentType, transferEncoding, body);
}

/**
 * nodemailer's hasLongerLines() for a string of ASCII characters: a line (between CR and LF
 * characters) longer than `lineLength`, or a string over 128 KB (which nodemailer does not look
 * at). String searches for the line ends instead of a regular expression over every character.
 */
function hasLongerAsciiLines(s: string, lineLength: number): boolean {
  if (s.length > 128 * 1024) return true;
  let cr = s.indexOf('\r');
  let lf = s.indexOf('\n');
  for (let pos = 0; ; ) {
    if (cr !== -1 && cr < pos) cr = s.indexOf('\r', pos);
    if (lf !== -1 && lf < pos) lf = s.indexOf('\n', pos);
    const end = cr === -1 ? (lf === -1 ? s.length : lf) : lf === -1 ? cr : Math.min(cr, lf);
    if (end - pos > lineLength) return true;
    if (end === s.length) return false;
    pos = end + 1;
  }
}

function textPartOf(contentType: string, transferEncoding: string, body: Buffer): TextPart {
  return {
    contentType: `Content-Type: ${contentType}`,
    transferEncoding: `Content-Transfer-Encoding: ${transferEncoding}`,
    body,
  };
}

/**
 * The MIME of a message with a text and/or an HTML body and no attachments (almost everything
 * the send API composes), written directly: the same bytes nodemailer's MailComposer builds,
 * without building its tree of nodes first.
 *
 * Composing was a quarter of the send API's CPU, most of it spent building and walking that
 * tree: a header list per node searched by normalized key (a chain of regular expressions per
 * look-up), the Content-Type parsed back out of a string, every address parsed again. Here
 * every value still goes through nodemailer's own encoders, folding and body encoders, except
 * values that are plainly printable ASCII, which nodemailer writes unchanged anyway. A
 * differential test holds the result to nodemailer's byte for byte.
 *
 * Undefined for anything else (attachments, an empty body, an input shape nodemailer treats
 * specially): the caller composes that with nodemailer.
 */
export function simpleMime(input: ComposeInput, baseBoundary: string): Buffer | undefined {
  if (input.attachments.length > 0) return undefined;
  // nodemailer skips an empty text or html; with neither, it writes an empty text/plain part
  if (input.text === '' || input.html === '' || (input.text === undefined && input.html === undefined))
    return undefined;
  // nodemailer reads a headers object with both "key" and "value" as one header named by "key"
  if ('key' in input.headers && 'value' in input.headers) return undefined;
  // nodemailer gets { Received, ...headers }, where a name like "123" comes first (JavaScript
  // orders integer keys first): here Received always leads
  if (Object.keys(input.headers).some((k) => /^\d+$/.test(k))) return undefined;
  // nodemailer strips control characters from a boundary; ours are hex
  if (!/^[\w-]+$/.test(baseBoundary)) return undefined;

  const lines: string[] = [];
  headerLine('Received', input.received, lines);
  for (const [key, value] of Object.entries(input.headers)) {
    const normalized = normalizeKey(key);
    if (OWN_KEYS.has(normalized)) return undefined;
    headerLine(normalized, value, lines);
  }
  headerLine('From', input.from, lines);
  if (input.sender) headerLine('Sender', input.sender, lines);
  headerLine('To', input.to, lines);
  if (input.cc.length > 0) headerLine('Cc', input.cc, lines);
  if (input.replyTo) headerLine('Reply-To', input.replyTo, lines);
  if (input.subject) headerLine('Subject', input.subject, lines);
  headerLine('Message-ID', `<${input.messageId}>`, lines);
  lines.push(`Date: ${rfc5322Date(input.date)}`);

  const text = input.text !== undefined ? textPart('text/plain; charset=utf-8', input.text) : undefined;
  const html = input.html !== undefined ? textPart('text/html; charset=utf-8', input.html) : undefined;
  const parts = [text, html].filter((p) => p !== undefined);
  if (parts.length !== (input.text !== undefined ? 1 : 0) + (input.html !== undefined ? 1 : 0)) return undefined;

  const chunks: Buffer[] = [];
  if (parts.length === 1) {
    // a single part is the root: its Content-Type goes last, after MIME-Version
    const part = parts[0]!;
    lines.push(part.transferEncoding, 'MIME-Version: 1.0', part.contentType);
    chunks.push(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), part.body);
  } else {
    // the root is node 1 of the tree nodemailer would build, and names its boundary after that
    const boundary = `--_NmP-${baseBoundary}-Part_1`;
    lines.push(
      'MIME-Version: 1.0',
      foldLines(`Content-Type: ${buildHeaderValue({ value: 'multipart/alternative', params: { boundary } })}`, 76),
    );
    chunks.push(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`));
    for (const [i, part] of parts.entries()) {
      chunks.push(
        Buffer.from(`${i > 0 ? '\r\n' : ''}--${boundary}\r\n${part.contentType}\r\n${part.transferEncoding}\r\n\r\n`),
        part.body,
      );
    }
    chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  }
  endWithNewline(chunks);
  return Buffer.concat(chunks);
}
