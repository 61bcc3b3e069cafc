import { readMessageHeader } from './mime-entities.js';

/**
 * The sender's word on tracking, in a message it composed itself (SMTP, send/raw):
 * `X-Postlog-Track: no` turns open and click tracking off for the message, as does Postal's
 * `X-AMP: skip` (Postal parses no message that carries it). They are instructions to Postlog, not
 * to the recipient: the fields are taken out of the message before it is stored, signed and sent.
 * Any other value of X-Postlog-Track (`yes`) leaves the server's settings in charge; the field
 * goes all the same.
 */
export interface TrackingOptOut {
  optedOut: boolean;
  /** The message without those fields (the same Buffer when it had none). */
  raw: Buffer;
}

const OFF = /^(?:no|false|off|0)$/i;

export function takeTrackingOptOut(raw: Buffer): TrackingOptOut {
  const fields = readMessageHeader(raw);
  const ours = fields.filter(
    (f) => f.name === 'x-postlog-track' || (f.name === 'x-amp' && f.value.toLowerCase() === 'skip'),
  );
  if (ours.length === 0) return { optedOut: false, raw };
  const optedOut = ours.some((f) => f.name === 'x-amp' || OFF.test(f.value));
  const chunks: Buffer[] = [];
  let at = 0;
  for (const f of ours) {
    chunks.push(raw.subarray(at, f.start));
    at = f.end;
  }
  chunks.push(raw.subarray(at));
  return { optedOut, raw: Buffer.concat(chunks) };
}
