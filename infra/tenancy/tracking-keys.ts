import type pg from 'pg';
import type { TrackingKeys } from '../../domain/index.js';
import { openSealed, type SecretBox } from '../secrets/index.js';
import { BriefCache } from './brief-cache.js';
import { trackingKeyContext } from './sealed-secrets.js';

/** How long a rotated tracking key may take to reach the tracking endpoints of another process. */
const TRACKING_KEYS_TTL_MS = 5000;

/** A server's tracking keys, cached briefly: every tracking hit needs them. */
export class TrackingKeyLookup {
  private readonly cache = new BriefCache<TrackingKeys | undefined>(TRACKING_KEYS_TTL_MS);

  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: SecretBox,
  ) {}

  /** A key that does not open (a wrong secrets key) is thrown: the tracking hit fails, with the reason logged. */
  async find(serverId: string): Promise<TrackingKeys | undefined> {
    return this.cache.get(serverId, async () => {
      const { rows } = await this.pool.query<Record<string, string | null>>(
        `SELECT tracking_secret, tracking_secret_sealed, tracking_secret_previous, tracking_secret_previous_sealed
           FROM servers WHERE id = $1`,
        [serverId],
      );
      const r = rows[0];
      if (!r) return undefined;
      const open = (plaintext: string | null | undefined, sealed: string | null | undefined) => {
        const opened = openSealed(this.secrets, { plaintext, sealed }, trackingKeyContext(serverId));
        if (!opened.ok)
          throw new Error(`the tracking key of server ${serverId} does not open: ${opened.error.message}`);
        return opened.value;
      };
      const current = open(r.tracking_secret, r.tracking_secret_sealed);
      if (current === null) throw new Error(`server ${serverId} has no tracking key`);
      return { current, previous: open(r.tracking_secret_previous, r.tracking_secret_previous_sealed) };
    });
  }

  /** Forget cached keys (after a change made in this process). */
  forget(): void {
    this.cache.clear();
  }
}
