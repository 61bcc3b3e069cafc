import type pg from 'pg';
import type { SendingDomain } from '../../domain/index.js';
import { BriefCache } from './brief-cache.js';

/** How long a domain change may take to reach the send path of another process. */
const SENDING_DOMAIN_TTL_MS = 5000;

/**
 * The send path's view of a domain of a server (no actor: the API key already chose the server).
 * Cached for a few seconds: every message asks, and domains change rarely.
 */
export class SendingDomainLookup {
  private readonly cache = new BriefCache<SendingDomain | undefined>(SENDING_DOMAIN_TTL_MS);

  constructor(private readonly pool: pg.Pool) {}

  async find(serverId: string, name: string): Promise<SendingDomain | undefined> {
    return this.cache.get(`${serverId}:${name.toLowerCase()}`, () => this.load(serverId, name));
  }

  /** Forget cached answers (after a change made in this process). */
  forget(): void {
    this.cache.clear();
  }

  private async load(serverId: string, name: string): Promise<SendingDomain | undefined> {
    const { rows } = await this.pool.query(
      `SELECT d.id, d.name, d.verified_at, d.return_path_subdomain,
              (SELECT CASE WHEN t.https THEN 'https://' ELSE 'http://' END || t.name
                 FROM track_domains t WHERE t.domain_id = d.id AND t.verified_at IS NOT NULL) AS tracking_base_url,
              coalesce(json_agg(json_build_object('selector', k.selector, 'algorithm', k.algorithm, 'privateKeyPem', k.private_key_pem) ORDER BY k.algorithm DESC)
                FILTER (WHERE k.id IS NOT NULL), '[]') AS keys
         FROM domains d LEFT JOIN dkim_keys k ON k.domain_id = d.id AND k.active
        WHERE d.server_id = $1 AND d.name = $2
        GROUP BY d.id`,
      [serverId, name.toLowerCase()],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.id,
      name: r.name,
      verified: r.verified_at !== null,
      returnPathDomain: `${r.return_path_subdomain}.${r.name}`,
      signingKeys: r.keys,
      trackingBaseUrl: r.tracking_base_url,
    };
  }
}
