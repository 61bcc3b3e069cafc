import { Resolver } from 'node:dns/promises';

/**
 * A DNS resolver on the configured servers (POSTLOG_DNS_SERVERS), or the system's when none is
 * set: tests and operators can point Postlog at any resolver.
 */
export function createResolver(servers: string[], timeoutMs = 5000): Resolver {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers(servers);
  return resolver;
}
