import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/**
 * The CAs that MTA-STS trusts (policy servers and MX hosts): Node's bundled roots plus the
 * operator's extra PEM file (POSTLOG_TLS_EXTRA_CA_FILE: a private CA, or a test's).
 */
export function trustedCas(extraCaFile: string | undefined): string[] {
  if (!extraCaFile) return [...rootCertificates];
  const pem = readFileSync(extraCaFile, 'utf8');
  const extra = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (extra.length === 0) throw new Error(`${extraCaFile} holds no PEM certificate`);
  return [...rootCertificates, ...extra];
}
