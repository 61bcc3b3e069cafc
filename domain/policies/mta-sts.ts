import { z } from 'zod';

/** MTA-STS (RFC 8461): the `_mta-sts` TXT record, the policy file and its MX patterns. Pure. */

export const StsMode = z.enum(['enforce', 'testing', 'none']);
export type StsMode = z.infer<typeof StsMode>;

export const StsPolicy = z.object({
  mode: StsMode,
  /** MX host patterns: "mx.example.com" or "*.example.com" (one leftmost label). */
  mx: z.array(z.string().min(1)),
  /** Seconds the policy may be cached (RFC 8461 §3.2: at most 31557600). */
  maxAge: z.number().int().min(0).max(31_557_600),
});
export type StsPolicy = z.infer<typeof StsPolicy>;

/**
 * The id of a `_mta-sts` TXT answer (RFC 8461 §3.1): exactly one record starting "v=STSv1;" with
 * an id of 1-32 alphanumerics. Several STS records, or a malformed one, count as none (§3.1).
 */
export function parseStsRecord(records: string[]): { id: string } | undefined {
  const sts = records.filter((r) => /^v=STSv1\s*(;|$)/.test(r));
  if (sts.length !== 1) return undefined;
  const fields = new Map<string, string>();
  for (const part of sts[0]!.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const id = fields.get('id');
  return id && /^[A-Za-z0-9]{1,32}$/.test(id) ? { id } : undefined;
}

/**
 * The policy file (RFC 8461 §3.2): "key: value" lines (CRLF or LF), version STSv1, a mode, a
 * max_age, and mx lines (required unless the mode is none). An error says what is wrong.
 */
export function parseStsPolicy(text: string): { ok: true; value: StsPolicy } | { ok: false; error: string } {
  const fields = new Map<string, string[]>();
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, error: `not a "key: value" line: ${line.slice(0, 80)}` };
    const key = line.slice(0, colon).trim();
    fields.set(key, [...(fields.get(key) ?? []), line.slice(colon + 1).trim()]);
  }
  if (fields.get('version')?.[0] !== 'STSv1') return { ok: false, error: 'version is not STSv1' };
  const mode = StsMode.safeParse(fields.get('mode')?.[0]);
  if (!mode.success) return { ok: false, error: `mode is not enforce, testing or none: ${fields.get('mode')?.[0]}` };
  const maxAgeText = fields.get('max_age')?.[0] ?? '';
  if (!/^\d{1,10}$/.test(maxAgeText)) return { ok: false, error: `max_age is not a number: ${maxAgeText}` };
  const mx = fields.get('mx') ?? [];
  if (mode.data !== 'none' && mx.length === 0) return { ok: false, error: 'no mx line' };
  // RFC 8461 §3.2: max_age up to 31557600; a larger one is taken as that
  return { ok: true, value: { mode: mode.data, mx, maxAge: Math.min(Number(maxAgeText), 31_557_600) } };
}

/**
 * Whether an MX host name matches one of the policy's patterns (RFC 8461 §4.1): equal, or a
 * "*." pattern whose wildcard stands for exactly one leftmost label. Case and a final dot ignored.
 */
export function mxMatchesPolicy(mxHost: string, patterns: string[]): boolean {
  const host = mxHost.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => {
    const pattern = p.toLowerCase().replace(/\.$/, '');
    if (!pattern.startsWith('*.')) return host === pattern;
    const dot = host.indexOf('.');
    return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
  });
}

/**
 * RFC 8460 §4.3 result types a delivery attempt can fail with: the TLS negotiation's, the
 * MTA-STS policy's and DANE's. `validation-failure` also stands for an MX host the policy does not list.
 */
export const TlsFailureType = z.enum([
  'starttls-not-supported',
  'certificate-host-mismatch',
  'certificate-expired',
  'certificate-not-trusted',
  'validation-failure',
  'sts-policy-fetch-error',
  'sts-policy-invalid',
  'sts-webpki-invalid',
  // DANE (RFC 7672): no TLSA record matched, the TLSA (or MX) answer failed DNSSEC validation
  'tlsa-invalid',
  'dnssec-invalid',
]);
export type TlsFailureType = z.infer<typeof TlsFailureType>;

/** A certificate verification error code (Node's/OpenSSL's) as an RFC 8460 result type. */
export function certificateFailureType(code: string): TlsFailureType {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'certificate-host-mismatch';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'certificate-expired';
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED|CERT_CHAIN_TOO_LONG/.test(code))
    return 'certificate-not-trusted';
  return 'validation-failure';
}
