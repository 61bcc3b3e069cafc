import { createHash, createPrivateKey, generateKeyPair, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type pg from 'pg';
import { openSealed, type SecretBox } from '../secrets/index.js';
import { signingKeyContext } from './sealed-secrets.js';

export interface PublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
  kid: string;
  alg: 'RS256';
  use: 'sig';
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: PublicJwk;
}

/** RFC 7638 thumbprint: the key id receivers can match. */
export function jwkThumbprint(jwk: { e: string; n: string }): string {
  return createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n }))
    .digest('base64url');
}

/**
 * Postlog's RSA key pair for webhook signatures: made on first use and kept in PostgreSQL, so
 * every process signs with the same key and /.well-known/jwks.json publishes it. Processes racing
 * to create it agree on the first one stored.
 */
export class SigningKeys {
  private current: Promise<SigningKey> | undefined;

  /** `secrets` seals the private key in its row. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: SecretBox,
    private readonly purpose = 'webhooks',
  ) {}

  key(): Promise<SigningKey> {
    this.current ??= this.loadOrCreate().catch((err: unknown) => {
      this.current = undefined; // a database hiccup must not stick
      throw err;
    });
    return this.current;
  }

  private async loadOrCreate(): Promise<SigningKey> {
    const found = await this.load();
    if (found) return found;
    const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
    const exported = publicKey.export({ format: 'jwk' }) as JsonWebKey & { n: string; e: string };
    const kid = jwkThumbprint(exported);
    const jwk: PublicJwk = { kty: 'RSA', n: exported.n, e: exported.e, kid, alg: 'RS256', use: 'sig' };
    await this.pool.query(
      `INSERT INTO signing_keys (purpose, kid, private_key_sealed, public_jwk) VALUES ($1, $2, $3, $4)
       ON CONFLICT (purpose) DO NOTHING`,
      [
        this.purpose,
        kid,
        this.secrets.seal(
          privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
          signingKeyContext(this.purpose),
        ),
        JSON.stringify(jwk),
      ],
    );
    const stored = await this.load();
    if (!stored) throw new Error('the signing key could not be stored');
    return stored;
  }

  private async load(): Promise<SigningKey | undefined> {
    const { rows } = await this.pool.query(
      'SELECT kid, private_key_pem, private_key_sealed, public_jwk FROM signing_keys WHERE purpose = $1',
      [this.purpose],
    );
    const r = rows[0];
    if (!r) return undefined;
    const pem = openSealed(
      this.secrets,
      { plaintext: r.private_key_pem, sealed: r.private_key_sealed },
      signingKeyContext(this.purpose),
    );
    // thrown, not made anew: a new key would change what receivers verify against
    if (!pem.ok || pem.value === null)
      throw new Error(`the ${this.purpose} signing key does not open: ${pem.ok ? 'empty' : pem.error.message}`);
    return { kid: r.kid, privateKey: createPrivateKey(pem.value), jwk: r.public_jwk as PublicJwk };
  }
}
