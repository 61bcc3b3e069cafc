import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

/** Loopback, private, link-local, CGNAT, multicast and unspecified addresses: never a tenant's endpoint. */
export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
  }
  const v6 = ip.toLowerCase();
  return v6 === '::' || v6 === '::1' || v6.startsWith('fc') || v6.startsWith('fd') || v6.startsWith('fe80') || v6.startsWith('ff') || (v6.startsWith('::ffff:') && isPrivateAddress(v6.slice(7)));
}

/**
 * A DNS lookup that refuses private addresses. It runs when the socket connects, so the address
 * checked is the address used: a name that resolves to a public address for a check and to
 * 127.0.0.1 a moment later (DNS rebinding) cannot slip through.
 */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const refused = addresses.find((a) => isPrivateAddress(a.address));
    if (refused) return callback(Object.assign(new Error(`the endpoint ${hostname} resolves to a private address (${refused.address})`), { code: 'EPRIVATEADDRESS' }), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
};

export interface EndpointPost {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** Allow loopback and private addresses (testing only). */
  allowPrivate: boolean;
  timeoutMs?: number;
  /** How much of the response body to keep for the delivery log. */
  maxResponseBytes?: number;
}

export interface EndpointAnswer {
  /** null when there was no HTTP answer (refused, timed out, private address…). */
  status: number | null;
  /** The start of the response body, or what went wrong. */
  response: string;
  durationMs: number;
}

/**
 * POSTs a tenant's payload to the tenant's endpoint (routes, webhooks): redirects are not
 * followed, the answer is cut short, private addresses are refused at connect time. Never throws.
 */
export function postToEndpoint(p: EndpointPost): Promise<EndpointAnswer> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const max = p.maxResponseBytes ?? 1000;
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(p.url);
    } catch {
      return resolve({ status: null, response: `not a URL: ${p.url}`, durationMs: 0 });
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!p.allowPrivate && isIP(host) && isPrivateAddress(host)) return resolve({ status: null, response: `the endpoint ${host} is a private address`, durationMs: 0 });
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(
      url,
      {
        method: 'POST',
        headers: { ...p.headers, 'content-length': Buffer.byteLength(p.body) },
        timeout: p.timeoutMs ?? 30_000,
        ...(p.allowPrivate ? {} : { lookup: publicOnlyLookup }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < max) chunks.push(chunk);
          size += chunk.length;
          if (size >= max) res.destroy(); // enough for the log; the status is what counts
        });
        const done = () => resolve({ status: res.statusCode ?? null, response: Buffer.concat(chunks).toString('utf8').slice(0, max), durationMs: elapsed() });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${p.timeoutMs ?? 30_000} ms`)));
    req.on('error', (err) => resolve({ status: null, response: err.message, durationMs: elapsed() }));
    req.end(p.body);
  });
}
