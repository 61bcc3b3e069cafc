import type pg from 'pg';
import { DEFAULT_DELIVERABILITY, ServerDeliverability } from '../../domain/index.js';

/** How long a process keeps a server's settings before reading them again (another process may change them). */
const CACHE_MS = 5_000;

/**
 * A server's deliverability settings: read on every send (cached a few seconds), changed over the
 * API. A change made in this process is seen at once; one made elsewhere within CACHE_MS.
 */
export class DeliverabilityStore {
  private readonly cache = new Map<string, { settings: ServerDeliverability; until: number }>();

  constructor(private readonly pool: pg.Pool) {}

  async get(serverId: string): Promise<ServerDeliverability> {
    const cached = this.cache.get(serverId);
    if (cached && cached.until > Date.now()) return cached.settings;
    const { rows } = await this.pool.query<{ settings: unknown }>(
      'SELECT settings FROM server_deliverability WHERE server_id = $1',
      [serverId],
    );
    const parsed = rows[0] ? ServerDeliverability.safeParse(rows[0].settings) : undefined;
    const settings = parsed?.success ? parsed.data : DEFAULT_DELIVERABILITY;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(serverId, { settings, until: Date.now() + CACHE_MS });
    return settings;
  }

  async put(serverId: string, settings: ServerDeliverability): Promise<ServerDeliverability> {
    await this.pool.query(
      `INSERT INTO server_deliverability (server_id, settings) VALUES ($1, $2::jsonb)
       ON CONFLICT (server_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
      [serverId, JSON.stringify(settings)],
    );
    this.cache.delete(serverId);
    return settings;
  }
}
