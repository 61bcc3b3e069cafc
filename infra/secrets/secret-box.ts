import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { err, ok, type Result } from '../../domain/index.js';

/** What opening a sealed secret can answer instead of the secret. */
export type SecretBoxError =
  | { code: 'UNKNOWN_KEY'; message: string }
  | { code: 'MALFORMED'; message: string }
  | { code: 'TAMPERED'; message: string };

const PREFIX = 'psb1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** How stale the sealing key may be after a rotation (`postlog secrets rotate` waits longer before its last pass). */
export const REREAD_BEFORE_SEAL_MS = 5000;
/** At most this often an unknown key id makes the keys be read again (a wrong key must not read a file per row). */
const REREAD_ON_UNKNOWN_KEY_MS = 1000;

/** A key's id: a short hash of the key, so an envelope names its key without saying anything about it. */
export const secretKeyId = (key: Buffer): string =>
  createHash('sha256').update('postlog secret key id\0').update(key).digest('hex').slice(0, 12);

/**
 * Secrets Postlog must read back later (an SMTP password for CRAM-MD5), sealed with AES-256-GCM.
 * The envelope `psb1.<key id>.<nonce>.<ciphertext and tag>` (base64url parts) names its key, so
 * keys can rotate: the first key seals, every key given opens what it sealed. A 96-bit random
 * nonce per seal (2^32 seals under one key keep the collision chance negligible). `context` is
 * authenticated but not stored (the row's id): a sealed value copied to another row does not open.
 */
export class SecretBox {
  private keys = new Map<string, Buffer>();
  private current = '';
  private readAt = 0;

  /**
   * `reread` (a key file) is asked again when an envelope names a key not known yet, and before a
   * seal at most every few seconds: `postlog secrets rotate` adds a key to the file while this
   * process runs, and it must open what the rotation re-sealed and seal under the new key.
   */
  constructor(
    keys: [Buffer, ...Buffer[]],
    private readonly reread?: () => [Buffer, ...Buffer[]],
  ) {
    this.use(keys);
  }

  private use(keys: [Buffer, ...Buffer[]]): void {
    for (const key of keys) if (key.length !== 32) throw new Error('a secret key is 32 bytes (AES-256)');
    this.keys = new Map(keys.map((k) => [secretKeyId(k), k]));
    this.current = secretKeyId(keys[0]);
    this.readAt = Date.now();
  }

  /** Reads the keys again if they may have changed since `afterMs` ago; a read that fails keeps the keys known. */
  private refresh(afterMs: number): void {
    if (!this.reread || Date.now() - this.readAt < afterMs) return;
    try {
      this.use(this.reread());
    } catch {
      this.readAt = Date.now(); // a half-written or missing file: the next try comes later
    }
  }

  /** The id of the key that seals. */
  get keyId(): string {
    this.refresh(REREAD_BEFORE_SEAL_MS);
    return this.current;
  }

  /** The ids of every key that opens (the sealing key first). */
  get keyIds(): string[] {
    return [this.current, ...[...this.keys.keys()].filter((id) => id !== this.current)];
  }

  seal(plaintext: string, context: string): string {
    this.refresh(REREAD_BEFORE_SEAL_MS);
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.current)!, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [PREFIX, this.current, nonce.toString('base64url'), sealed.toString('base64url')].join('.');
  }

  open(envelope: string, context: string): Result<string, SecretBoxError> {
    const parts = envelope.split('.');
    if (parts.length !== 4 || parts[0] !== PREFIX)
      return err({ code: 'MALFORMED', message: 'not a sealed secret of this version' });
    const [, keyId, nonceText, sealedText] = parts as [string, string, string, string];
    if (!this.keys.has(keyId)) this.refresh(REREAD_ON_UNKNOWN_KEY_MS);
    const key = this.keys.get(keyId);
    if (!key)
      return err({
        code: 'UNKNOWN_KEY',
        message: `sealed with key ${keyId}, which is not among the configured keys (${this.keyIds.join(', ')}): POSTLOG_SECRETS_KEY or the data dir's secrets.key changed`,
      });
    const nonce = Buffer.from(nonceText, 'base64url');
    const sealed = Buffer.from(sealedText, 'base64url');
    if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES)
      return err({ code: 'MALFORMED', message: 'the sealed secret is truncated' });
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
      return ok(plain.toString('utf8'));
    } catch {
      return err({ code: 'TAMPERED', message: 'the sealed secret does not open: changed, or sealed for another row' });
    }
  }
}
