import { systemActor, type Server } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';

/**
 * A sending server's settings as the MTA needs them (IP pool, suspension), read from tenancy at
 * most every `ttlMs` per server: the MTA asks for every message, tenancy changes rarely.
 */
export class ServerSettings {
  private readonly cache = new Map<string, { server: Server | undefined; until: number }>();

  constructor(
    private readonly tenancy: Pick<TenancyStore, 'getServer'>,
    private readonly clock: Clock,
    private readonly ttlMs = 30_000,
  ) {}

  async of(serverId: string): Promise<Server | undefined> {
    let hit = this.cache.get(serverId);
    if (!hit || hit.until < this.clock.now().getTime()) {
      const server = await this.tenancy.getServer(systemActor('mta'), serverId);
      hit = { server: server.ok ? server.value : undefined, until: this.clock.now().getTime() + this.ttlMs };
      this.cache.set(serverId, hit);
    }
    return hit.server;
  }

  /** A suspended (or deleted) server's queued mail waits: it goes once the suspension is lifted. */
  async mayDeliver(serverId: string): Promise<boolean> {
    return (await this.of(serverId))?.suspended === false;
  }
}
