/**
 * REQUIRETLS (RFC 8689): a message submitted with `MAIL FROM:<…> REQUIRETLS` (or `requireTls` over
 * the API) goes only over verified TLS to hosts that offer REQUIRETLS themselves; one whose sender
 * wrote `TLS-Required: No` goes even where a TLS policy (MTA-STS) would refuse it (§5).
 */

/** The enhanced status code of a message that cannot be delivered with REQUIRETLS (RFC 8689 §6). */
export const REQUIRETLS_STATUS = '5.7.30';

/**
 * Whether the header section of `raw` has `TLS-Required: No` (RFC 8689 §5; the value is
 * case-insensitive, a folded field is unfolded first). Only the header section is read.
 */
export function hasTlsRequiredNo(raw: Uint8Array): boolean {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const end = bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, end < 0 ? Math.min(bytes.length, 256 * 1024) : end).toString('latin1');
  return /^TLS-Required[ \t]*:[ \t]*No[ \t]*$/im.test(head.replace(/\r\n[ \t]+/g, ' '));
}
