import type pg from 'pg';
import type { SendingDomain } from '../../domain/index.js';
import { openSealed, type SecretBox } from '../secrets/index.js';
import { BriefCache } from './brief-cache.js';
import { dkimKeyContext } from './sealed-secrets.js';

/** How long a domain change may take to reach the send path of another process. */
const SENDING_DOMAIN_TTL_MS = 5000;

interface StoredKey {
  id: string;
  selector: string;
  algorithm: SendingDomain['signingKeys'][number]['algorithm'];
  plaintext: string | null;
  sealed: string | null;
}

/**
 * The send path's view of a domain of a server (no actor: the API key already chose the server).
 * Cached for a few seconds: every message asks, and domains change rarely.
 */
export class SendingDomainLookup {
  private readonly cache = new BriefCache<SendingDomain | undefined>(SENDING_DOMAIN_TTL_MS);

  /** `secrets` opens the DKIM private keys. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: SecretBox,
  ) {}

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
              coalesce(json_agg(json_build_object('id', k.id, 'selector', k.selector, 'algorithm', k.algorithm,
                                                'plaintext', k.private_key_pem, 'sealed', k.private_key_sealed)
                                ORDER BY k.algorithm DESC)
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
      signingKeys: (r.keys as StoredKey[]).map((k) => {
        const pem = openSealed(this.secrets, k, dkimKeyContext(k.id));
        // thrown: the message is refused with the reason logged, rather than sent unsigned
        if (!pem.ok || pem.value === null)
          throw new Error(
            `the DKIM key ${k.selector} of ${r.name} does not open: ${pem.ok ? 'empty' : pem.error.message}`,
          );
        return { selector: k.selector, algorithm: k.algorithm, privateKeyPem: pem.value };
      }),
      trackingBaseUrl: r.tracking_base_url,
    };
  }
}
