import { randomUUID } from 'node:crypto';
import { readMessageHeader } from '../tracking/mime-entities.js';
import type { SubmittedHeaders } from './submitted-headers.js';

/**
 * The Message-ID a message a client composed itself (SMTP, send/raw) is recorded, signed and delivered with. One
 * without a Message-ID field gets one here, in its bytes, at the entry: every recipient then receives the id the
 * client was told (the SMTP reply, the API's answer) and the read models record. (The MTA adds one at delivery to
 * a message that still has none: a different one for each recipient.) `raw` has CRLF line ends
 * (canonicalMessageBytes).
 *
 * A field that is there but names no id (`Message-ID:` or `<>`) is left as the client wrote it: the message goes
 * out with it, and what is recorded is a generated id the message does not carry.
 */
export function withMessageId(
  raw: Buffer,
  email: Pick<SubmittedHeaders, 'headers' | 'rfcMessageId'>,
  hostname: string,
): { raw: Buffer; rfcMessageId: string } {
  if (email.rfcMessageId !== undefined) return { raw, rfcMessageId: email.rfcMessageId };
  const generated = `${randomUUID()}@${hostname}`;
  if (email.headers.some((h) => h.key === 'message-id')) return { raw, rfcMessageId: generated };
  // after the last field (trace fields stay first, RFC 5321 §4.4), as Postfix adds the ones missing
  const at = readMessageHeader(raw).at(-1)?.end ?? 0;
  const lineEnd = at > 0 && raw[at - 1] !== 0x0a ? '\r\n' : '';
  const field = Buffer.from(`${lineEnd}Message-ID: <${generated}>\r\n`);
  return { raw: Buffer.concat([raw.subarray(0, at), field, raw.subarray(at)]), rfcMessageId: generated };
}
