import { randomUUID } from 'node:crypto';
import type { SubmittedHeaders } from './submitted-headers.js';

/**
 * The Message-ID a message a client composed itself (SMTP, send/raw) is recorded, signed and delivered with. One
 * without a Message-ID field gets one here, in its bytes, at the entry: every recipient then receives the id the
 * client was told (the SMTP reply, the API's answer) and the read models record. (The MTA adds one at delivery to
 * a message that still has none: a different one for each recipient.) A field that is there but names no id is
 * left as the client wrote it. `raw` has CRLF line ends (canonicalMessageBytes).
 */
export function withMessageId(
  raw: Buffer,
  email: Pick<SubmittedHeaders, 'headers' | 'rfcMessageId'>,
  hostname: string,
): { raw: Buffer; rfcMessageId: string } {
  const generated = `${randomUUID()}@${hostname}`;
  if (email.rfcMessageId !== undefined) return { raw, rfcMessageId: email.rfcMessageId };
  if (email.headers.some((h) => h.key === 'message-id')) return { raw, rfcMessageId: generated };
  return { raw: withFieldLast(raw, `Message-ID: <${generated}>\r\n`), rfcMessageId: generated };
}

/** A header field added after the others (trace fields stay first, RFC 5321 §4.4), as Postfix adds missing ones. */
function withFieldLast(raw: Buffer, field: string): Buffer {
  const blank = raw.indexOf('\r\n\r\n');
  if (blank >= 0) return Buffer.concat([raw.subarray(0, blank + 2), Buffer.from(field), raw.subarray(blank + 2)]);
  // a header section without a body: the field goes after its last line
  const lineEnd = raw.length === 0 || raw.at(-1) === 0x0a ? '' : '\r\n';
  return Buffer.concat([raw, Buffer.from(`${lineEnd}${field}`)]);
}
