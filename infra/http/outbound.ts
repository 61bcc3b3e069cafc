import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses that are not a tenant's public endpoint: loopback, private, link-local, CGNAT,
 * documentation, benchmarking, multicast, reserved, unique-local, site-local, 6to4 and the
 * IPv4-compatible range. node's BlockList also matches an IPv4-mapped IPv6 address
 * (::ffff:7f00:1 is 127.0.0.1) against the IPv4 subnets, whatever form the URL parser left it in.
 */
const notPublic = (() => {
  const list = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ] as const)
    list.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [
    ['::', 96],
    ['::1', 128],
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
    ['2002::', 16],
    ['100::', 64],
    ['2001:db8::', 32],
  ] as const)
    list.addSubnet(net, bits, 'ipv6');
  return list;
})();

/** The IPv4 address a NAT64 address (64:ff9b::/96) reaches. */
function nat64Target(ip: string): string | undefined {
  const m = /^64:ff9b::(?:([0-9a-f]{1,4}):([0-9a-f]{1,4})|(\d+\.\d+\.\d+\.\d+))$/i.exec(ip);
  if (!m) return undefined;
  if (m[3]) return m[3];
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Whether an address must never be a tenant's endpoint (see notPublic). Not an IP at all counts as private. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return notPublic.check(ip, 'ipv4');
  if (family === 6) {
    const target = nat64Target(ip.toLowerCase());
    if (target !== undefined) return isPrivateAddress(target);
    return notPublic.check(ip, 'ipv6');
  }
  return true;
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
    if (bad)
      return callback(new PrivateAddressError(`${hostname} resolves to a private address (${bad.address})`), '', 0);
    if ((options as LookupOptions).all)
      return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
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
  /** `timeoutMs` overrides the poster's own deadline for this request. */
  post(url: string, body: string, headers: Record<string, string>, timeoutMs?: number): Promise<PostResult>;
  close(): void;
}

/**
 * The HTTP Basic Authorization header a URL's user info asks for (https://user:pass@host/…: how
 * Postmark and Listmonk receivers are given their credentials), or undefined when it has none.
 */
export function basicAuthOf(url: URL): string | undefined {
  if (!url.username && !url.password) return undefined;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
}

/**
 * POSTs JSON bodies over keep-alive connections (one pool per origin), without following
 * redirects, with a deadline for the whole exchange, reading at most `maxResponseBytes` of the
 * answer. Unless `allowPrivate`, connections to private addresses are refused at connect time.
 */
export function createJsonPoster(options: {
  timeoutMs: number;
  allowPrivate: boolean;
  maxSocketsPerOrigin?: number;
  maxResponseBytes?: number;
}): JsonPoster {
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSocketsPerOrigin ?? 50,
    ...(options.allowPrivate ? {} : { lookup: publicOnlyLookup }),
  };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const maxResponse = options.maxResponseBytes ?? 1000;
  return {
    post(url, body, headers, timeoutMs = options.timeoutMs) {
      const target = new URL(url);
      const host = target.hostname.replace(/^\[|\]$/g, '');
      if (!options.allowPrivate && isIP(host) && isPrivateAddress(host))
        return Promise.reject(new PrivateAddressError(`${host} is a private address`));
      const secure = target.protocol === 'https:';
      // the user info becomes an Authorization header and leaves the URL, so nothing downstream sees it
      const authorization = basicAuthOf(target);
      target.username = '';
      target.password = '';
      return new Promise<PostResult>((resolve, reject) => {
        const req = (secure ? https : http).request(
          target,
          {
            method: 'POST',
            agent: secure ? httpsAgent : httpAgent,
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              ...(authorization ? { authorization } : {}),
              ...headers,
            },
            signal: AbortSignal.timeout(timeoutMs),
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
            res.on('close', () =>
              resolve({
                status: res.statusCode ?? 0,
                excerpt: Buffer.concat(chunks).toString('utf8').slice(0, maxResponse),
              }),
            );
            res.on('error', () => undefined); // 'close' follows and reports what was read
          },
        );
        req.on('error', (err) =>
          reject(err.name === 'AbortError' ? new Error(`no answer within ${timeoutMs / 1000} s`) : err),
        );
        req.end(body);
      });
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * An endpoint URL for the logs: origin and path only (user info, the Basic auth password of a
 * Postmark or Listmonk endpoint, and query strings can hold secrets).
 */
export function loggableUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}
