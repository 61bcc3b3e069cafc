import { usableTlsa, type TlsaRecord } from '../../domain/index.js';
import { RCODE, type DnsResponse, type ValidatingResolver } from '../../infra/dns/index.js';
import type { RouteHost } from './router.js';

/** What DANE says of one MX host: its usable TLSA records, or that its TLSA answer cannot be trusted. */
export type DaneHost =
  /** Secure TLSA records exist: TLS is required and must match `records` (none usable: TLS without checks). */
  | { kind: 'tlsa'; records: TlsaRecord[] }
  /** The TLSA look-up failed DNSSEC validation (or failed): the host is not used (RFC 7672 §2.2). */
  | { kind: 'bogus'; detail: string };

export type DanePlan =
  /** Per MX host with DANE; hosts not in the map fall back to MTA-STS or the configured TLS policy. */
  | { kind: 'hosts'; hosts: Map<string, DaneHost> }
  /** The MX answer failed DNSSEC validation: nothing is sent until it validates (RFC 7672 §2.2.1). */
  | { kind: 'defer'; detail: string };

const NONE: DanePlan = { kind: 'hosts', hosts: new Map() };

/**
 * DANE for SMTP (RFC 7672), asked of a validating resolver: the MX RRset must be secure for its
 * hosts to be candidates (for an implicit MX, the secure denial of the MX RRset), then each
 * candidate's TLSA records at `_25._tcp.<host>`. Nothing is cached here: the validating resolver
 * caches by the records' TTLs.
 */
export class Dane {
  constructor(private readonly resolver: ValidatingResolver) {}

  async planFor(domain: string, hosts: RouteHost[], via: 'mx' | 'implicit-mx'): Promise<DanePlan> {
    const mx = await this.resolver.query(domain, 'MX').catch((err: Error) => err);
    if (mx instanceof Error) return { kind: 'defer', detail: `the MX look-up of ${domain} failed: ${mx.message}` };
    if (mx.rcode === RCODE.SERVFAIL)
      return { kind: 'defer', detail: `the MX records of ${domain} failed DNSSEC validation (SERVFAIL)` };
    if (!mx.authenticated) return NONE;
    const secureNames = new Set(
      via === 'implicit-mx'
        ? [domain.toLowerCase()]
        : mx.answers.flatMap((r) => (r.type === 'MX' ? [r.exchange.toLowerCase()] : [])),
    );
    const candidates = hosts.filter((h) => secureNames.has(h.name.toLowerCase()));
    const found = await Promise.all(candidates.map(async (h) => [h.name, await this.tlsaOf(h.name)] as const));
    return { kind: 'hosts', hosts: new Map(found.filter((e): e is [string, DaneHost] => e[1] !== undefined)) };
  }

  /** The host's DANE, or undefined when it has no secure TLSA records (then DANE does not apply). */
  private async tlsaOf(host: string): Promise<DaneHost | undefined> {
    const name = `_25._tcp.${host}`;
    const answer: DnsResponse | Error = await this.resolver.query(name, 'TLSA').catch((err: Error) => err);
    if (answer instanceof Error)
      return { kind: 'bogus', detail: `the TLSA look-up of ${name} failed: ${answer.message}` };
    if (answer.rcode === RCODE.SERVFAIL)
      return { kind: 'bogus', detail: `the TLSA records of ${name} failed DNSSEC validation (SERVFAIL)` };
    if (answer.rcode !== RCODE.NOERROR && answer.rcode !== RCODE.NXDOMAIN)
      return { kind: 'bogus', detail: `the TLSA look-up of ${name} failed (rcode ${answer.rcode})` };
    const records = answer.answers.flatMap((r) => (r.type === 'TLSA' ? [r] : []));
    // insecure (no AD bit) or none: DANE does not apply, as if unsigned (RFC 7672 §2.2)
    if (!answer.authenticated || records.length === 0) return undefined;
    return { kind: 'tlsa', records: usableTlsa(records) };
  }
}
