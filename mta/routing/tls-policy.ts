export type TlsPolicy = 'opportunistic' | 'require' | 'none';

/** How the smart host is reached, as configured: implicit TLS, STARTTLS required, opportunistic, or plain. */
export type SmartHostTls = 'tls' | 'starttls' | 'none';

/**
 * The TLS policy of a delivery to `domain`: with a smart host, its setting (implicit TLS is the
 * connection's own, so STARTTLS stays opportunistic there); otherwise the destination's own
 * setting, or the MTA's default.
 */
export function tlsPolicyFor(
  domain: string,
  o: {
    smartHostTls?: SmartHostTls | undefined;
    destinations: Record<string, { tls?: TlsPolicy | undefined }>;
    mtaTls: TlsPolicy;
  },
): TlsPolicy {
  if (o.smartHostTls !== undefined) {
    if (o.smartHostTls === 'none') return 'none';
    return o.smartHostTls === 'starttls' ? 'require' : 'opportunistic';
  }
  return o.destinations[domain]?.tls ?? o.mtaTls;
}

/** Where `tlsPolicyFor`'s answer comes from: the smart host, a destination's own setting, or the MTA's default. */
export function tlsPolicySourceFor(
  domain: string,
  o: { smartHostTls?: SmartHostTls | undefined; destinations: Record<string, { tls?: TlsPolicy | undefined }> },
): 'smart-host' | 'destination' | 'default' {
  if (o.smartHostTls !== undefined) return 'smart-host';
  return o.destinations[domain]?.tls !== undefined ? 'destination' : 'default';
}
