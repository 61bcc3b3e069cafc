import type { Logger } from '../../infra/logging/index.js';

export interface PoolAddress {
  address: string;
  ehlo?: string | undefined;
  weight: number;
}

/** The local address a server's mail leaves from, and the EHLO name that goes with it. */
export interface Binding {
  address: string;
  ehlo: string;
}

/**
 * One address of a pool, chosen at random in proportion to the weights; `random` is in [0, 1).
 * Undefined for an empty pool.
 */
export function chooseAddress(pool: PoolAddress[], random: number): PoolAddress | undefined {
  let r = random * pool.reduce((n, a) => n + a.weight, 0);
  return pool.find((a) => (r -= a.weight) < 0) ?? pool[pool.length - 1];
}

/**
 * The binding of a server's mail: from the IP pool the server names, or undefined (the default
 * route) when it names none, or one the configuration does not define (said in the log).
 */
export function bindingFor(
  server: { id: string; ipPool: string | null },
  pools: Record<string, PoolAddress[]>,
  hostname: string,
  logger: Logger,
  random: () => number = Math.random,
): Binding | undefined {
  if (server.ipPool === null) return undefined;
  const pool = pools[server.ipPool];
  const chosen = pool ? chooseAddress(pool, random()) : undefined;
  if (!chosen) {
    logger.warn(
      { serverId: server.id, pool: server.ipPool },
      'the server names an IP pool the configuration does not define: using the default route',
    );
    return undefined;
  }
  return { address: chosen.address, ehlo: chosen.ehlo ?? hostname };
}
