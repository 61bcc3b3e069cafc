import type { LookupFunction } from 'node:net';
import { request } from 'node:https';
import type { TlsFailureType } from '../../domain/index.js';

/** The limits of one policy fetch: RFC 8461 §3.3 asks for a bound on both (64 KiB is its example size). */
export const POLICY_MAX_BYTES = 64 * 1024;
export const POLICY_TIMEOUT_MS = 20_000;

export type PolicyFetch =
  | { ok: true; text: string }
  | { ok: false; type: Extract<TlsFailureType, 'sts-policy-fetch-error' | 'sts-webpki-invalid'>; detail: string };

/**
 * GET https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.3): the certificate must be
 * valid for the host and chain to a trusted CA (the system's and the operator's extra ones), no
 * redirects, a 200 answer of text/plain within the size and time limits. `lookup` resolves the
 * host through Postlog's resolver (POSTLOG_DNS_SERVERS), as MX look-ups do.
 */
export function fetchStsPolicy(
  domain: string,
  o: { ca: string[]; lookup: LookupFunction; port?: number; timeoutMs?: number },
): Promise<PolicyFetch> {
  const host = `mta-sts.${domain}`;
  return new Promise((resolve) => {
    const fail = (type: 'sts-policy-fetch-error' | 'sts-webpki-invalid', detail: string) => {
      req.destroy();
      resolve({ ok: false, type, detail: `${host}: ${detail}` });
    };
    const req = request(
      {
        host,
        port: o.port ?? 443,
        path: '/.well-known/mta-sts.txt',
        method: 'GET',
        ca: o.ca,
        servername: host,
        lookup: o.lookup,
        timeout: o.timeoutMs ?? POLICY_TIMEOUT_MS,
        headers: { accept: 'text/plain' },
        agent: false,
      },
      (res) => {
        if (res.statusCode !== 200)
          return fail('sts-policy-fetch-error', `HTTP ${res.statusCode} (redirects are not followed)`);
        const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'text/plain')
          return fail('sts-policy-fetch-error', `content type ${type || 'missing'}, not text/plain`);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > POLICY_MAX_BYTES) return fail('sts-policy-fetch-error', `larger than ${POLICY_MAX_BYTES} bytes`);
          chunks.push(c);
        });
        res.on('end', () => resolve({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => fail('sts-policy-fetch-error', err.message));
      },
    );
    req.on('timeout', () => fail('sts-policy-fetch-error', `no answer within ${o.timeoutMs ?? POLICY_TIMEOUT_MS} ms`));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // a certificate error has an OpenSSL code (CERT_…, …SELF_SIGNED…) or Node's altname one
      const webpki = /CERT|SELF_SIGNED|ISSUER|VERIFY/.test(err.code ?? '');
      fail(webpki ? 'sts-webpki-invalid' : 'sts-policy-fetch-error', `${err.code ?? 'ERROR'}: ${err.message}`);
    });
    req.end();
  });
}
