import {
  certificateFailureType,
  mxMatchesPolicy,
  type AppliedTlsPolicy,
  type TlsFailureType,
} from '../../domain/index.js';
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
 * keep the domain's transport. TLS-Required: No sets the domain's MTA-STS policy aside (§5);
 * REQUIRETLS requires verified TLS wherever the mail goes, and enforces a policy in testing mode.
 */
export function planMessageTransport(
  domain: string,
  configured: { tls: TlsPolicy; source: TlsPolicySource },
  sts: StsLookup | undefined,
  message: MessageTls,
): Transport {
  if (message.tlsOptional && !message.requireTls) {
    const t = planTransport(domain, configured, undefined);
    return { ...t, applied: { ...t.applied, tlsOptional: true } };
  }
  const t = planTransport(domain, configured, sts);
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
 * wins; otherwise the domain's MTA-STS policy when it has one, else the MTA's default.
 */
export function planTransport(
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
  const flags = `${t.requireTls ? 'requiretls' : ''}${t.applied.tlsOptional ? 'tls-optional' : ''}`;
  return `${t.tls}|${t.applied.policy}:${t.applied.mode ?? ''}:${t.sts?.mx.join(',') ?? ''}|${flags}`;
}

/** Under MTA-STS enforce, only the MX hosts the policy lists (RFC 8461 §4.1). */
export function hostsUnderPolicy<H extends { name: string }>(hosts: H[], t: Transport): H[] {
  return t.sts?.mode === 'enforce' ? hosts.filter((h) => mxMatchesPolicy(h.name, t.sts!.mx)) : hosts;
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
