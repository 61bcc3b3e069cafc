import MailComposer from 'nodemailer/lib/mail-composer';
import { encodeWord } from 'nodemailer/lib/mime-funcs';
import { randomBytesPooled } from '../../infra/random/index.js';
import { mimeBytes } from './mime-bytes.js';
import { simpleMime } from './simple-mime.js';

export interface ComposeAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
  /** Content-ID of an inline part (an HTML body refers to it as cid:…); absent: an ordinary attachment. */
  cid?: string | undefined;
}

export interface ComposeInput {
  from: string;
  sender?: string | undefined;
  to: string[];
  cc: string[];
  replyTo?: string | undefined;
  subject?: string | undefined;
  text?: string | undefined;
  html?: string | undefined;
  attachments: ComposeAttachment[];
  /** Already validated custom headers. */
  headers: Record<string, string>;
  /** Without angle brackets. */
  messageId: string;
  date: Date;
  /** Trace header of the hop that received the message (e.g. "from api ([1.2.3.4]) by …"). */
  received: string;
}

/**
 * The raw MIME, as nodemailer's composer builds it (BCC is never written into the headers): a
 * text/HTML message without attachments directly, anything else through nodemailer's tree.
 */
export async function composeMime(composed: ComposeInput): Promise<Buffer> {
  const input = withFoldableSubject(composed);
  const baseBoundary = randomBytesPooled(8).toString('hex');
  const direct = simpleMime(input, baseBoundary);
  if (direct) return direct;
  const root = mailComposer(input, baseBoundary).compile();
  return mimeBytes(root) ?? root.build();
}

/**
 * A subject with a run of characters that no folding can break (nodemailer folds printable ASCII at its
 * blanks only) as encoded words, which fold: "Subject: " and 990 letters make a 999-byte line, and the accept
 * path refused the message that POST /v2/send allows (a subject of up to 998 characters). Found by
 * test/fuzz/compose-mime. A reader decodes the words back to the same subject.
 */
function withFoldableSubject(input: ComposeInput): ComposeInput {
  if (input.subject === undefined || !/\S{900}/.test(input.subject)) return input;
  return { ...input, subject: encodeWord(input.subject, 'Q', 52) };
}

/** nodemailer's composer for the input; `compile()` gives the MIME tree. Tests fix `baseBoundary` to build a tree twice. */
export function mailComposer(input: ComposeInput, baseBoundary = randomBytesPooled(8).toString('hex')): MailComposer {
  return new MailComposer({
    from: input.from,
    ...(input.sender ? { sender: input.sender } : {}),
    to: input.to,
    ...(input.cc.length > 0 ? { cc: input.cc } : {}),
    ...(input.replyTo ? { replyTo: input.replyTo } : {}),
    ...(input.subject !== undefined ? { subject: input.subject } : {}),
    ...(input.text !== undefined ? { text: input.text } : {}),
    ...(input.html !== undefined ? { html: input.html } : {}),
    attachments: input.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
      ...(a.cid ? { cid: a.cid, contentDisposition: 'inline' as const } : {}),
    })),
    headers: { Received: input.received, ...input.headers },
    messageId: `<${input.messageId}>`,
    date: input.date,
    // random, as nodemailer's own, without a system call per part
    baseBoundary,
  });
}

/** Headers Postlog writes itself; a sender may not set or override them. */
export const OWNED_HEADERS = new Set([
  'from',
  'sender',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'received',
  'return-path',
  'dkim-signature',
  'arc-seal',
  'arc-message-signature',
  'arc-authentication-results',
  'list-unsubscribe',
  'list-unsubscribe-post',
]);

/** RFC 5322 field names: printable ASCII except ':'. */
const HEADER_NAME = /^[!-9;-~]+$/;

/** Validates custom headers: returns the problem for the first bad one. */
export function checkCustomHeaders(headers: Record<string, string>): { name: string; problem: string } | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) return { name, problem: 'is not a valid header name' };
    if (/[\r\n\0]/.test(value)) return { name, problem: 'must not contain CR, LF or NUL (header injection)' };
    const lower = name.toLowerCase();
    if (OWNED_HEADERS.has(lower) || lower.startsWith('x-postlog-'))
      return { name, problem: 'is set by Postlog and cannot be overridden' };
    if (value.length > 2000) return { name, problem: 'is longer than 2,000 characters' };
    // a header is folded at its spaces; a longer run makes a line over 998 bytes, which mail refuses
    if (/\S{980,}/.test(value))
      return { name, problem: 'has over 980 characters without a space, which no mail line can hold' };
  }
  return undefined;
}
