import {
  certificateFailureType,
  mxMatchesPolicy,
  tlsaText,
  type AppliedTlsPolicy,
  type TlsFailureType,
} from '../../domain/index.js';
import type { DaneHost, DanePlan } from './dane.js';
import type { StsLookup } from './mta-sts.js';
import type { TlsPolicy } from './tls-policy.js';

export type TlsPolicySource = AppliedTlsPolicy['source'];
export type TlsFailure = { type: TlsFailureType; detail: string };

/** How mail for one recipient domain travels: the STARTTLS setting and the policy to record. */
export interface Transport {
  tls: TlsPolicy;
  /** What the attempt events record (a policy that could not be fetched is its failure). */
  applied: AppliedTlsPolicy;
  /** MTA-STS: MX hosts must match `mx` and verify (enforce), or are judged and recorded (testing). */
  sts?: { mode: 'enforce' | 'testing'; mx: string[] };
  /** DANE of the MX hosts that have secure TLSA records (or a bogus TLSA answer); it wins over MTA-STS for them. */
  dane?: Map<string, DaneHost>;
  /** The domain's MX answer failed DNSSEC validation: nothing is sent (deferred) until it validates. */
  blocked?: TlsFailure;
  /**
   * REQUIRETLS (RFC 8689): STARTTLS with a certificate that verifies, to a host that offers
   * REQUIRETLS, and the domain's MTA-STS policy (testing too) enforced.
   */
  requireTls?: boolean;
}

/** How a message asks for its TLS (RFC 8689): REQUIRETLS, or `TLS-Required: No`. */
export interface MessageTls {
  requireTls?: boolean | undefined;
  tlsOptional?: boolean | undefined;
}

/**
 * A domain's transport for a message that asks for REQUIRETLS or says `TLS-Required: No`; others
 * keep the domain's transport. TLS-Required: No sets the domain's MTA-STS and DANE policies aside (§5);
 * REQUIRETLS requires verified TLS wherever the mail goes, and enforces a policy in testing mode.
 */
export function planMessageTransport(
  domain: string,
  configured: { tls: TlsPolicy; source: TlsPolicySource },
  sts: StsLookup | undefined,
  message: MessageTls,
  dane?: DanePlan,
): Transport {
  // TLS-Required: No asks that MTA-STS and DANE be set aside (RFC 8689 §5)
  if (message.tlsOptional && !message.requireTls) {
    const t = planTransport(domain, configured, undefined);
    return { ...t, applied: { ...t.applied, tlsOptional: true } };
  }
  const t = planTransport(domain, configured, sts, dane);
  if (!message.requireTls) return t;
  return {
    tls: 'require',
    // an MTA-STS policy stays the policy of record (enforced); otherwise the message's own word is `require`
    applied: {
      ...t.applied,
      ...(t.applied.policy === 'mta-sts' ? {} : { policy: 'require' as const }),
      requireTls: true,
    },
    ...(t.sts ? { sts: { mode: 'enforce' as const, mx: t.sts.mx } } : {}),
    requireTls: true,
  };
}

/**
 * The transport of a domain: an operator's explicit setting (a destination's `tls`, the smart host)
 * wins; otherwise DANE for the MX hosts with secure TLSA records (RFC 8461 §2: DANE before MTA-STS),
 * the domain's MTA-STS policy for the others when it has one, else the MTA's default.
 */
export function planTransport(
  domain: string,
  configured: { tls: TlsPolicy; source: TlsPolicySource },
  sts: StsLookup | undefined,
  dane?: DanePlan,
): Transport {
  const planned = planWithoutDane(domain, configured, sts);
  if (configured.source !== 'default' || !dane) return planned;
  if (dane.kind === 'defer') return { ...planned, blocked: { type: 'dnssec-invalid', detail: dane.detail } };
  return dane.hosts.size > 0 ? { ...planned, dane: dane.hosts } : planned;
}

/** What attempts over a session to `host` record: DANE's policy for a DANE host, else the domain's. */
export function appliedFor(host: string, t: Transport): AppliedTlsPolicy {
  return t.dane?.has(host) ? { domain: t.applied.domain, source: 'dns', policy: 'dane' } : t.applied;
}

function planWithoutDane(
  domain: string,
  configured: { tls: TlsPolicy; source: TlsPolicySource },
  sts: StsLookup | undefined,
): Transport {
  const base = { domain, source: configured.source, policy: configured.tls } as const;
  if (configured.source !== 'default' || !sts) return { tls: configured.tls, applied: { ...base } };
  if (sts.kind === 'none')
    return { tls: configured.tls, applied: { ...base, ...(sts.failure ? { failure: sts.failure } : {}) } };
  const mode = sts.policy.mode === 'enforce' ? 'enforce' : 'testing';
  return {
    tls: mode === 'enforce' ? 'require' : configured.tls === 'none' ? 'opportunistic' : configured.tls,
    applied: { domain, source: 'dns', policy: 'mta-sts', mode, policyId: sts.id },
    sts: { mode, mx: sts.policy.mx },
  };
}

/** A key that keeps domains of different transports off each other's connections. */
export function transportKey(t: Transport): string {
  const dane = [...(t.dane ?? [])].map(([h, d]) => `${h}=${d.kind === 'tlsa' ? d.records.map(tlsaText) : 'bogus'}`);
  const flags = `${t.requireTls ? 'requiretls' : ''}${t.applied.tlsOptional ? 'tls-optional' : ''}`;
  return `${t.tls}|${t.applied.policy}:${t.applied.mode ?? ''}:${t.sts?.mx.join(',') ?? ''}|${dane.join(',')}|${flags}`;
}

/**
 * Under MTA-STS enforce, only the MX hosts the policy lists (RFC 8461 §4.1), and those DANE
 * covers (DANE takes precedence over MTA-STS, RFC 8461 §2).
 */
export function hostsUnderPolicy<H extends { name: string }>(hosts: H[], t: Transport): H[] {
  return t.sts?.mode === 'enforce'
    ? hosts.filter((h) => t.dane?.has(h.name) || mxMatchesPolicy(h.name, t.sts!.mx))
    : hosts;
}

/**
 * What MTA-STS (or REQUIRETLS) finds wrong with a session to `host` (RFC 8461 §4.2): an MX the policy
 * does not list, no TLS, or a certificate that did not verify. Undefined when all is well or neither applies.
 */
export function judgeSession(
  host: string,
  verdict: { authorized: boolean; error?: string } | null,
  t: Transport,
): TlsFailure | undefined {
  if (!t.sts && !t.requireTls) return undefined;
  if (t.sts && !mxMatchesPolicy(host, t.sts.mx))
    return { type: 'validation-failure', detail: `${host} is not an MX host of the policy (${t.sts.mx.join(', ')})` };
  if (!verdict) return { type: 'starttls-not-supported', detail: `${host} did not offer STARTTLS` };
  if (!verdict.authorized)
    return { type: certificateFailureType(verdict.error ?? ''), detail: `${host}: certificate ${verdict.error}` };
  return undefined;
}
