import type { LookupFunction } from 'node:net';
import { request } from 'node:https';

export const REPORT_POST_TIMEOUT_MS = 30_000;

/**
 * POSTs a gzipped TLS-RPT report to an `https:` rua (RFC 8460 §5.2): content type
 * application/tlsrpt+gzip, the certificate checked against the trusted CAs (the system's and
 * POSTLOG_TLS_EXTRA_CA_FILE's), the host resolved through Postlog's resolver. Any 2xx is success;
 * redirects are not followed.
 */
export function postTlsReport(
  url: string,
  gzipped: Buffer,
  o: { ca: string[]; lookup: LookupFunction; timeoutMs?: number },
): Promise<{ ok: true; status: number } | { ok: false; detail: string }> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return resolve({ ok: false, detail: `${url} is not a URL` });
    }
    if (target.protocol !== 'https:') return resolve({ ok: false, detail: `${url} is not https` });
    const req = request(
      target,
      {
        method: 'POST',
        ca: o.ca,
        lookup: o.lookup,
        timeout: o.timeoutMs ?? REPORT_POST_TIMEOUT_MS,
        headers: { 'content-type': 'application/tlsrpt+gzip', 'content-length': gzipped.length },
        agent: false,
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        res.on('end', () =>
          resolve(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, detail: `HTTP ${status}` }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? REPORT_POST_TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ ok: false, detail: `${err.code ? `${err.code}: ` : ''}${err.message}` }),
    );
    req.end(gzipped);
  });
}
