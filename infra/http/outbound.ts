import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

/** Loopback, private, link-local, CGNAT and unspecified addresses: never a tenant's endpoint. */
export function isPrivateAddress(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  const v6 = ip.toLowerCase();
  return v6 === '::' || v6 === '::1' || v6.startsWith('fc') || v6.startsWith('fd') || v6.startsWith('fe80') || (v6.startsWith('::ffff:') && isPrivateAddress(v6.slice(7)));
}

export class PrivateAddressError extends Error {
  readonly code = 'EPRIVATE';
}

/**
 * A DNS lookup for outgoing connections that refuses names resolving to private addresses. It runs
 * inside the connect itself, so a name cannot answer "public" to a check and "private" to the
 * connection a moment later (DNS rebinding).
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...(options as LookupOptions), all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as unknown as LookupAddress[];
    const bad = list.find((a) => isPrivateAddress(a.address));
    if (bad) return callback(new PrivateAddressError(`${hostname} resolves to a private address (${bad.address})`), '', 0);
    if ((options as LookupOptions).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    const first = list[0];
    if (!first) return callback(new Error(`${hostname} has no address`), '', 0);
    callback(null, first.address, first.family);
  });
};

/** Whether a URL's host is a private address, or resolves to one (checked when an endpoint is saved). */
export async function resolvesToPrivateAddress(url: string): Promise<string | undefined> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return isPrivateAddress(host) ? host : undefined;
  const { lookup } = await import('node:dns/promises');
  const addresses = await lookup(host, { all: true }).catch(() => []);
  return addresses.find((a) => isPrivateAddress(a.address))?.address;
}

export interface PostResult {
  status: number;
  /** The start of the response body. */
  excerpt: string;
}

export interface JsonPoster {
  post(url: string, body: string, headers: Record<string, string>): Promise<PostResult>;
  close(): void;
}

/**
 * POSTs JSON bodies over keep-alive connections (one pool per origin), without following
 * redirects, with a deadline for the whole exchange, reading at most `maxResponseBytes` of the
 * answer. Unless `allowPrivate`, connections to private addresses are refused at connect time.
 */
export function createJsonPoster(options: { timeoutMs: number; allowPrivate: boolean; maxSocketsPerOrigin?: number; maxResponseBytes?: number }): JsonPoster {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSocketsPerOrigin ?? 50, ...(options.allowPrivate ? {} : { lookup: publicOnlyLookup }) };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const maxResponse = options.maxResponseBytes ?? 1000;
  return {
    post(url, body, headers) {
      const target = new URL(url);
      const host = target.hostname.replace(/^\[|\]$/g, '');
      if (!options.allowPrivate && isIP(host) && isPrivateAddress(host)) return Promise.reject(new PrivateAddressError(`${host} is a private address`));
      const secure = target.protocol === 'https:';
      return new Promise<PostResult>((resolve, reject) => {
        const req = (secure ? https : http).request(
          target,
          {
            method: 'POST',
            agent: secure ? httpsAgent : httpAgent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
            signal: AbortSignal.timeout(options.timeoutMs),
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (chunk: Buffer) => {
              if (size < maxResponse) chunks.push(chunk);
              size += chunk.length;
              // a huge answer is not read to its end: the connection is dropped instead
              if (size > 64 * 1024) res.destroy();
            });
            res.on('close', () => resolve({ status: res.statusCode ?? 0, excerpt: Buffer.concat(chunks).toString('utf8').slice(0, maxResponse) }));
            res.on('error', () => undefined); // 'close' follows and reports what was read
          },
        );
        req.on('error', (err) => reject(err.name === 'AbortError' ? new Error(`no answer within ${options.timeoutMs / 1000} s`) : err));
        req.end(body);
      });
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
