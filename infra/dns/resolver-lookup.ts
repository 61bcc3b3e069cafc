import type { Resolver } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';

/**
 * A `lookup` for node:net/https that asks Postlog's resolver (POSTLOG_DNS_SERVERS) instead of the
 * system's getaddrinfo: an HTTPS fetch then finds the same hosts as the MX look-ups do.
 */
export function resolverLookup(resolver: Pick<Resolver, 'resolve4' | 'resolve6'>): LookupFunction {
  return (hostname, options, callback) => {
    void (async () => {
      const v4 = await resolver.resolve4(hostname).catch(() => [] as string[]);
      const v6 = v4.length > 0 ? [] : await resolver.resolve6(hostname).catch(() => [] as string[]);
      const all = [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
      if (all.length === 0)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4);
      if (options.all) return (callback as unknown as (e: null, a: typeof all) => void)(null, all);
      callback(null, all[0]!.address, all[0]!.family);
    })();
  };
}
