import type { Resolver } from 'node:dns/promises';
import { LRUCache } from 'lru-cache';
import { parseStsPolicy, parseStsRecord, type StsPolicy, type TlsFailureType } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import { resolverLookup } from '../../infra/dns/index.js';
import { fetchStsPolicy, type PolicyFetch, type StoredStsPolicy } from '../../infra/mta-sts/index.js';

/** What MTA-STS says of a recipient domain now. */
export type StsLookup =
  | { kind: 'policy'; id: string; policy: StsPolicy }
  /** No policy applies; `failure` when the domain announced one that could not be had (for TLS-RPT). */
  | { kind: 'none'; failure?: { type: TlsFailureType; detail: string } };

interface Cached {
  id: string;
  policy: StsPolicy;
  /** The policy as served (what a store keeps). */
  text: string;
  expiresAt: number;
  /** Until when the `_mta-sts` TXT id is taken as unchanged without asking DNS again. */
  checkedUntil: number;
}

export interface MtaStsOptions {
  clock: Clock;
  /** CAs trusted for the policy server's certificate. */
  ca: string[];
  /** How long a TXT answer is trusted before asking again (ids change rarely; the policy's max_age is longer). */
  recheckMs?: number;
  /** The policy server's port: 443 (RFC 8461); tests may use another. */
  port?: number;
  fetch?: (domain: string) => Promise<PolicyFetch>;
  /** How many domains are remembered, with a policy and without one apart (default 50,000 each). */
  maxDomains?: number;
  /** Where fetched policies are kept across restarts (infra/mta-sts's StsPolicyStore); unset: memory only. */
  store?: { save(p: StoredStsPolicy): Promise<void> } | undefined;
  /** A policy that could not be kept (the database): it still applies in memory. */
  onStoreError?: (domain: string, err: Error) => void;
}

/**
 * MTA-STS policies of recipient domains (RFC 8461 §5): the `_mta-sts` TXT id, the policy fetched
 * when the id is new or changed, and kept in memory for its max_age. A cached policy outlives a
 * vanished TXT record and an unreachable policy server until it expires (§5.1), so a policy
 * cannot be stripped by an attacker who blocks the look-ups. With a store, each fetched policy is
 * kept in PostgreSQL too and `preload` reads them at start: a restart does not forget a policy, so
 * a policy server that is down after it does not strip the policy either.
 */
export class MtaSts {
  /**
   * Bounded (least recently used out first), as `without` is: an expired entry is only dropped when
   * its domain is asked for again, and an MTA meets ever more domains over its life. A policy pushed
   * out is fetched again when its domain next gets mail (it is gone from memory as after a restart).
   */
  private readonly cache: LRUCache<string, Cached>;
  /**
   * Domains found without a policy (most of them), or whose policy could not be had, and until
   * when that answer stands: without it every batch would ask DNS again (and wait again for a
   * dead policy server).
   */
  private readonly without: LRUCache<string, { lookup: StsLookup; until: number }>;
  private readonly inFlight = new Map<string, Promise<StsLookup>>();
  private readonly fetch: (domain: string) => Promise<PolicyFetch>;

  constructor(
    private readonly resolver: Pick<Resolver, 'resolveTxt' | 'resolve4' | 'resolve6'>,
    private readonly o: MtaStsOptions,
  ) {
    this.cache = new LRUCache({ max: o.maxDomains ?? 50_000 });
    this.without = new LRUCache({ max: o.maxDomains ?? 50_000 });
    const lookup = resolverLookup(resolver);
    this.fetch = o.fetch ?? ((domain) => fetchStsPolicy(domain, { ca: o.ca, lookup, port: o.port }));
  }

  /**
   * Takes the policies kept before a restart (not expired, still parseable): each is used until its
   * max_age ends, its TXT id checked again at first use. Returns how many were taken.
   */
  preload(stored: StoredStsPolicy[]): number {
    const now = this.o.clock.now().getTime();
    let taken = 0;
    for (const p of stored) {
      const parsed = parseStsPolicy(p.text);
      if (!parsed.ok || p.expiresAt.getTime() <= now) continue;
      this.cache.set(p.domain.toLowerCase(), {
        id: p.id,
        policy: parsed.value,
        text: p.text,
        expiresAt: p.expiresAt.getTime(),
        checkedUntil: 0,
      });
      taken++;
    }
    return taken;
  }

  policyFor(domain: string): Promise<StsLookup> {
    const key = domain.toLowerCase();
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = this.lookup(key).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async lookup(domain: string): Promise<StsLookup> {
    const now = this.o.clock.now().getTime();
    const recheck = now + (this.o.recheckMs ?? 300_000);
    const cached = this.cache.get(domain);
    const valid = cached && cached.expiresAt > now ? cached : undefined;
    if (!valid && cached) this.cache.delete(domain);
    if (valid && valid.checkedUntil > now) return asLookup(valid);
    const known = this.without.get(domain);
    if (!valid && known && known.until > now) return known.lookup;
    this.without.delete(domain);
    const none = (lookup: StsLookup): StsLookup => {
      this.without.set(domain, { lookup, until: recheck });
      return lookup;
    };
    const records = await this.resolver
      .resolveTxt(`_mta-sts.${domain}`)
      .then((rs) => rs.map((chunks) => chunks.join('')))
      .catch(() => [] as string[]);
    const record = parseStsRecord(records);
    if (!record) {
      if (valid) valid.checkedUntil = recheck;
      return valid ? asLookup(valid) : none({ kind: 'none' });
    }
    if (valid && valid.id === record.id) {
      valid.checkedUntil = recheck;
      return asLookup(valid);
    }
    const fetched = await this.fetch(domain);
    if (!fetched.ok)
      return valid ? asLookup(valid) : none({ kind: 'none', failure: { type: fetched.type, detail: fetched.detail } });
    const parsed = parseStsPolicy(fetched.text);
    if (!parsed.ok) {
      const detail = `mta-sts.${domain}: ${parsed.error}`;
      return valid ? asLookup(valid) : none({ kind: 'none', failure: { type: 'sts-policy-invalid', detail } });
    }
    const entry: Cached = {
      id: record.id,
      policy: parsed.value,
      text: fetched.text,
      expiresAt: now + parsed.value.maxAge * 1000,
      checkedUntil: recheck,
    };
    this.cache.set(domain, entry);
    // kept for after a restart; a failure to keep it costs nothing now (the policy applies from memory)
    this.o.store
      ?.save({ domain, id: entry.id, text: entry.text, fetchedAt: new Date(now), expiresAt: new Date(entry.expiresAt) })
      .catch((err: Error) => this.o.onStoreError?.(domain, err));
    return asLookup(entry);
  }
}

function asLookup(c: Cached): StsLookup {
  return c.policy.mode === 'none' ? { kind: 'none' } : { kind: 'policy', id: c.id, policy: c.policy };
}
