import type { Resolver } from 'node:dns/promises';
import { LRUCache } from 'lru-cache';
import { addressLiteralIp } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import { isNoRecord } from '../../infra/dns/index.js';

/** The DNS look-ups routing needs (Node's resolver has them; tests answer from a table). */
export type MxResolver = Pick<Resolver, 'resolveMx' | 'resolve4' | 'resolve6'>;

/** One host to try, with the addresses our resolver found for it. */
export interface RouteHost {
  /** MX host name (for TLS SNI, logs and shaping buckets). */
  name: string;
  addresses: string[];
  port: number;
}

export type Route =
  | { kind: 'deliver'; hosts: RouteHost[]; via: 'mx' | 'implicit-mx' | 'smart-host' | 'address-literal' }
  /** Permanent: the domain cannot receive mail (NXDOMAIN, null MX, no address at all). */
  | { kind: 'bounce'; reason: string; enhancedCode: string }
  /** Temporary: DNS failed (SERVFAIL, timeout). */
  | { kind: 'defer'; reason: string };

export interface SmartHost {
  host: string;
  port: number;
}

/** "host:port" (as the configuration checked it) as a SmartHost; undefined when none is set. */
export function parseSmartHost(value: string | undefined): SmartHost | undefined {
  if (!value) return undefined;
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon), port: Number(value.slice(colon + 1)) };
}

const TEMPORARY = new Set([
  'ESERVFAIL',
  'ETIMEOUT',
  'ECONNREFUSED',
  'EREFUSED',
  'ECANCELLED',
  'EBADRESP',
  'ECONNRESET',
]);

/**
 * Where mail for a domain goes: MX records in preference order (RFC 5321 §5.1), the domain itself
 * when it has no MX (implicit MX), nowhere for a null MX (RFC 7505) or a domain that does not
 * exist, and later for DNS trouble. Answers are cached for `ttlMs` (Node's resolver does not
 * report record TTLs, so one cache lifetime applies).
 */
export class Router {
  /**
   * By recipient domain. Bounded (least recently used out first): an expired answer is only replaced
   * when its domain is asked for again, and an MTA meets ever more domains over its life.
   */
  private readonly cache: LRUCache<string, { route: Route; until: number }>;

  constructor(
    private readonly resolver: MxResolver,
    private readonly port: number,
    private readonly options: {
      clock: Clock;
      ttlMs?: number;
      smartHost?: SmartHost | undefined;
      /** How many domains' answers are kept (default 50,000). */
      maxDomains?: number;
    },
  ) {
    this.cache = new LRUCache({ max: options.maxDomains ?? 50_000 });
  }

  async route(domain: string): Promise<Route> {
    if (this.options.smartHost) {
      const { host, port } = this.options.smartHost;
      const addresses = /^[\d.]+$|:/.test(host) ? [host] : await this.addresses(host).catch(() => [] as string[]);
      if (addresses.length === 0) return { kind: 'defer', reason: `the smart host ${host} has no address` };
      return { kind: 'deliver', via: 'smart-host', hosts: [{ name: host, addresses, port }] };
    }
    // an address literal (taken only where the operator allows them) names its host: no DNS
    const literal = addressLiteralIp(domain);
    if (literal)
      return {
        kind: 'deliver',
        via: 'address-literal',
        hosts: [{ name: literal, addresses: [literal], port: this.port }],
      };
    const key = domain.toLowerCase();
    const hit = this.cache.get(key);
    if (hit && hit.until > this.options.clock.now().getTime()) return hit.route;
    const route = await this.lookup(key);
    // DNS trouble is not cached: the next attempt asks again
    if (route.kind !== 'defer')
      this.cache.set(key, { route, until: this.options.clock.now().getTime() + (this.options.ttlMs ?? 300_000) });
    return route;
  }

  private async lookup(domain: string): Promise<Route> {
    let mx: { exchange: string; priority: number }[];
    try {
      mx = await this.resolver.resolveMx(domain);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOTFOUND')
        return { kind: 'bounce', reason: `${domain} does not exist (NXDOMAIN)`, enhancedCode: '5.1.2' };
      if (code === 'ENODATA') return this.implicitMx(domain);
      if (TEMPORARY.has(code)) return { kind: 'defer', reason: `DNS lookup of ${domain} failed (${code})` };
      return { kind: 'defer', reason: `DNS lookup of ${domain} failed (${code || (err as Error).message})` };
    }
    if (mx.length === 0) return this.implicitMx(domain);
    if (mx.length === 1 && (mx[0]!.exchange === '' || mx[0]!.exchange === '.')) {
      return { kind: 'bounce', reason: `${domain} accepts no mail (null MX, RFC 7505)`, enhancedCode: '5.1.10' };
    }
    // lowest preference first; equal preferences in random order to spread the load (RFC 5321)
    const ordered = mx
      .filter((m) => m.exchange !== '' && m.exchange !== '.')
      .sort((a, b) => a.priority - b.priority || Math.random() - 0.5);
    const hosts: RouteHost[] = [];
    let temporaryFailure = false;
    for (const m of ordered) {
      try {
        const addresses = await this.addresses(m.exchange);
        if (addresses.length > 0) hosts.push({ name: m.exchange.toLowerCase(), addresses, port: this.port });
      } catch (err) {
        if (TEMPORARY.has((err as NodeJS.ErrnoException).code ?? '')) temporaryFailure = true;
      }
    }
    if (hosts.length > 0) return { kind: 'deliver', via: 'mx', hosts };
    if (temporaryFailure) return { kind: 'defer', reason: `the MX hosts of ${domain} could not be resolved right now` };
    return { kind: 'bounce', reason: `no MX host of ${domain} has an address`, enhancedCode: '5.4.4' };
  }

  private async implicitMx(domain: string): Promise<Route> {
    try {
      const addresses = await this.addresses(domain);
      if (addresses.length > 0)
        return { kind: 'deliver', via: 'implicit-mx', hosts: [{ name: domain, addresses, port: this.port }] };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (TEMPORARY.has(code)) return { kind: 'defer', reason: `DNS lookup of ${domain} failed (${code})` };
    }
    return { kind: 'bounce', reason: `${domain} has no MX and no address record`, enhancedCode: '5.1.2' };
  }

  /** IPv4 then IPv6 addresses; an empty list when the name has none. */
  private async addresses(host: string): Promise<string[]> {
    const v4 = await this.resolver.resolve4(host).catch((err: NodeJS.ErrnoException) => {
      if (isNoRecord(err)) return [] as string[];
      throw err;
    });
    const v6 = await this.resolver.resolve6(host).catch((err: NodeJS.ErrnoException) => {
      if (isNoRecord(err)) return [] as string[];
      if (v4.length > 0) return [] as string[];
      throw err;
    });
    return [...v4, ...v6];
  }
}
