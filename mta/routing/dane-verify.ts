import type { X509Certificate } from 'node:crypto';
import { DANE_EE, DANE_TA, tlsaMatches, tlsaText, type TlsaRecord } from '../../domain/index.js';
import type { TlsFailure } from './transport-security.js';

/**
 * Whether the certificate chain an MX host presented satisfies its TLSA records (RFC 7672 §3):
 * DANE-EE(3) matches the host's own certificate or key, and nothing else is checked (no name, no
 * dates, no CA: the DNSSEC-signed record is the trust); DANE-TA(2) matches a certificate of the
 * presented chain, which the host's certificate must chain up to (signatures, dates) and which must
 * name the MX host. A trust anchor given only as a key (selector 1) not in the chain is not looked
 * for elsewhere. No usable record at all: TLS without authentication (§2.2), so no failure.
 */
export function verifyDane(
  host: string,
  chain: X509Certificate[],
  records: TlsaRecord[],
  now: Date,
): TlsFailure | undefined {
  if (records.length === 0) return undefined;
  const leaf = chain[0];
  if (!leaf) return { type: 'tlsa-invalid', detail: `${host} presented no certificate` };
  const form = (c: X509Certificate) => ({ der: c.raw, spki: c.publicKey.export({ type: 'spki', format: 'der' }) });
  if (records.some((r) => r.usage === DANE_EE && tlsaMatches(r, form(leaf)))) return undefined;
  let nameMismatch = false;
  for (const r of records.filter((x) => x.usage === DANE_TA)) {
    const anchor = chain.findIndex((c) => tlsaMatches(r, form(c)));
    if (anchor < 0 || !chainsUpTo(chain, anchor, now)) continue;
    if (leaf.checkHost(host) !== undefined) return undefined;
    nameMismatch = true;
  }
  if (nameMismatch)
    return { type: 'certificate-host-mismatch', detail: `${host}: the certificate (DANE-TA) is not for ${host}` };
  return {
    type: 'tlsa-invalid',
    detail: `${host}: no TLSA record matches the certificate (${records.map(tlsaText).join('; ')})`,
  };
}

/** Each certificate below `anchor` is issued and signed by the next one and valid at `now`. */
function chainsUpTo(chain: X509Certificate[], anchor: number, now: Date): boolean {
  for (let i = 0; i < anchor; i++) {
    const cert = chain[i]!;
    const issuer = chain[i + 1]!;
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return false;
    if (new Date(cert.validFrom) > now || new Date(cert.validTo) < now) return false;
  }
  return true;
}
