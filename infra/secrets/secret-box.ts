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
/**
 * How long `postlog secrets rotate` waits before its last pass: a seal that began under the old
 * key just before the key file changed has been written by then.
 */
export const ROTATION_GRACE_MS = 2000;

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
  private stamp: string | undefined;

  /**
   * `source` (a key file) is read again when it changed (`stamp`: its inode, size and time), looked
   * at before each seal and when an envelope names a key not known yet: `postlog secrets rotate`
   * puts a key on top of the file while this process runs, and the process must open what the
   * rotation re-sealed and seal under the new key, without a restart.
   */
  constructor(
    keys: [Buffer, ...Buffer[]],
    private readonly source?: { stamp(): string; read(): [Buffer, ...Buffer[]] },
  ) {
    this.use(keys);
    this.stamp = source?.stamp();
  }

  private use(keys: [Buffer, ...Buffer[]]): void {
    for (const key of keys) if (key.length !== 32) throw new Error('a secret key is 32 bytes (AES-256)');
    this.keys = new Map(keys.map((k) => [secretKeyId(k), k]));
    this.current = secretKeyId(keys[0]);
  }

  /** Reads the keys again if their file changed; a file that cannot be read keeps the keys known. */
  private refresh(): void {
    if (!this.source) return;
    try {
      const stamp = this.source.stamp();
      if (stamp === this.stamp) return;
      this.use(this.source.read());
      this.stamp = stamp;
    } catch {
      // missing or half-written: the next look tries again
    }
  }

  /** The id of the key that seals. */
  get keyId(): string {
    this.refresh();
    return this.current;
  }

  /** The ids of every key that opens (the sealing key first). */
  get keyIds(): string[] {
    return [this.current, ...[...this.keys.keys()].filter((id) => id !== this.current)];
  }

  seal(plaintext: string, context: string): string {
    this.refresh();
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
    if (!this.keys.has(keyId)) this.refresh();
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
