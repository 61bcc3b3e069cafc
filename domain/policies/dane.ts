import { createHash } from 'node:crypto';

/** A TLSA record (RFC 6698 §2): certificate usage, selector, matching type and association data. */
export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Uint8Array;
}

/** RFC 7672 §3.1: DANE-TA(2) and DANE-EE(3) serve SMTP; PKIX-TA(0) and PKIX-EE(1) do not. */
export const DANE_TA = 2;
export const DANE_EE = 3;

/**
 * The records a client can use (RFC 7672 §2.2, §3.1.3): usages 2 and 3, selector 0 (the whole
 * certificate) or 1 (its SubjectPublicKeyInfo), matching type 0 (exact), 1 (SHA-256) or 2 (SHA-512).
 * A record with another value is ignored, not an error: it may be meant for other clients.
 */
export function usableTlsa(records: TlsaRecord[]): TlsaRecord[] {
  return records.filter(
    (r) => (r.usage === DANE_TA || r.usage === DANE_EE) && r.selector <= 1 && r.matchingType <= 2 && r.data.length > 0,
  );
}

/**
 * Whether a record's association data stands for this certificate: `der` is the certificate,
 * `spki` its public key (both DER), the record's selector picks which one is compared.
 */
export function tlsaMatches(record: TlsaRecord, cert: { der: Uint8Array; spki: Uint8Array }): boolean {
  const selected = record.selector === 0 ? cert.der : cert.spki;
  const digest =
    record.matchingType === 0
      ? Buffer.from(selected)
      : createHash(record.matchingType === 1 ? 'sha256' : 'sha512')
          .update(selected)
          .digest();
  return Buffer.compare(digest, Buffer.from(record.data)) === 0;
}

/** A record as text, as zone files write it ("3 1 1 ab12…"), for logs and failure details. */
export function tlsaText(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${Buffer.from(r.data).toString('hex')}`;
}
