import { randomUUID } from 'node:crypto';
import { rfc5322Date } from '../../domain/index.js';
import { dkimSignMessage, type SigningKey } from './dkim.js';

export type { SigningKey };

export interface PrepareInput {
  raw: Buffer;
  messageId: string;
  token: string;
  rcptTo: string;
  /** The sending domain (From header's domain). */
  domain: string;
  /** e.g. psrp.example.com */
  returnPathDomain: string;
  signingKeys: SigningKey[];
  hostname: string;
  now: Date;
}

/**
 * VERP return path: bounces come back to an address that names the message and carries its
 * token, so an asynchronous bounce is matched exactly (not by scanning its text).
 */
export function verpAddress(messageId: string, token: string, returnPathDomain: string): string {
  return `b-${messageId}-${token}@${returnPathDomain}`;
}

/** Parses a VERP return path back into message id and token. */
export function parseVerp(address: string): { messageId: string; token: string } | undefined {
  const m = /^b-(\d{1,18})-([A-Za-z0-9]{16})@/.exec(address);
  return m ? { messageId: m[1]!, token: m[2]! } : undefined;
}

/** The X-Postlog-MsgID value ("<id>-<token>") back into message id and token. */
export function parseMessageReference(value: string): { messageId: string; token: string } | undefined {
  const m = /^\s*(\d{1,18})-([A-Za-z0-9]{16})\s*$/.exec(value);
  return m ? { messageId: m[1]!, token: m[2]! } : undefined;
}

function headerBlock(raw: Buffer): string {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
  return raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
}

const hasHeader = (headers: string, name: string) => new RegExp(`^${name}:`, 'im').test(headers);

/**
 * What goes on the wire: a Received trace header, Message-ID and Date when the sender left them
 * out, then DKIM signatures with the domain's active keys (RSA, plus Ed25519 when configured)
 * over all of it.
 */
export async function prepareForDelivery(input: PrepareInput): Promise<{ message: Buffer; envelopeFrom: string }> {
  const headers = headerBlock(input.raw);
  const date = rfc5322Date(input.now);
  const added: string[] = [
    // the queue's hand-over to the MTA, for one recipient: no protocol received it (no "with", RFC 5321 §4.4);
    // how the message came in is the accept path's own Received line, below this one
    `Received: by ${input.hostname} (Postlog) id ${input.messageId}\r\n\tfor <${input.rcptTo}>; ${date}`,
  ];
  if (!hasHeader(headers, 'Message-ID')) added.push(`Message-ID: <${randomUUID()}@${input.hostname}>`);
  // our own reference: complaint reports (ARF) redact the recipient but keep the headers
  added.push(`X-Postlog-MsgID: ${input.messageId}-${input.token}`);
  if (!hasHeader(headers, 'Date')) added.push(`Date: ${date}`);
  const prefix = Buffer.from(`${added.join('\r\n')}\r\n`);
  const message =
    input.signingKeys.length > 0
      ? await dkimSignMessage(prefix, input.raw, input.domain, input.signingKeys, input.now)
      : Buffer.concat([prefix, input.raw]);
  return { message, envelopeFrom: verpAddress(input.messageId, input.token, input.returnPathDomain) };
}
