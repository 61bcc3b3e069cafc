import type pg from 'pg';
import type { TrackingKeys } from '../../domain/index.js';
import { BriefCache } from './brief-cache.js';

/** How long a rotated tracking key may take to reach the tracking endpoints of another process. */
const TRACKING_KEYS_TTL_MS = 5000;

/** A server's tracking keys, cached briefly: every tracking hit needs them. */
export class TrackingKeyLookup {
  private readonly cache = new BriefCache<TrackingKeys | undefined>(TRACKING_KEYS_TTL_MS);

  constructor(private readonly pool: pg.Pool) {}

  async find(serverId: string): Promise<TrackingKeys | undefined> {
    return this.cache.get(serverId, async () => {
      const { rows } = await this.pool.query<{ tracking_secret: string; tracking_secret_previous: string | null }>(
        'SELECT tracking_secret, tracking_secret_previous FROM servers WHERE id = $1',
        [serverId],
      );
      return rows[0] ? { current: rows[0].tracking_secret, previous: rows[0].tracking_secret_previous } : undefined;
    });
  }

  /** Forget cached keys (after a change made in this process). */
  forget(): void {
    this.cache.clear();
  }
}
