import { createPrivateKey, createPublicKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import type { DkimAlgorithm } from '../../domain/index.js';
import { randomToken } from './secrets.js';

const generate = promisify(generateKeyPair);

export interface DkimKeyPair {
  selector: string;
  algorithm: DkimAlgorithm;
  privateKeyPem: string;
  /** The base64 for the p= tag of the DNS record. */
  publicKeyB64: string;
}

/** A new DKIM key: RSA-2048 (never 1024, unlike Postal) or Ed25519 (RFC 8463). */
export async function generateDkimKey(
  algorithm: DkimAlgorithm,
  selectorBase = `pl-${randomToken(6).toLowerCase()}`,
): Promise<DkimKeyPair> {
  if (algorithm === 'ed25519') {
    const { publicKey, privateKey } = await generate('ed25519', {
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    // RFC 8463: the record holds the raw 32-byte key, the last 32 bytes of the SPKI encoding
    return {
      selector: `${selectorBase}-ed`,
      algorithm,
      privateKeyPem: privateKey,
      publicKeyB64: publicKey.subarray(-32).toString('base64'),
    };
  }
  const { publicKey, privateKey } = await generate('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { selector: selectorBase, algorithm, privateKeyPem: privateKey, publicKeyB64: publicKey.toString('base64') };
}

/**
 * A key made elsewhere (Postal's, under Postal's selector), so its published DNS record stays
 * valid. Stored as PKCS#8 like Postlog's own. An RSA key is filed as 'rsa-2048' whatever its size:
 * the name stands for "sign with RSA-SHA256" (Postal's keys are RSA-1024).
 */
export function dkimKeyFromPem(privateKeyPem: string, selector: string): DkimKeyPair {
  const key = createPrivateKey(privateKeyPem);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (key.asymmetricKeyType === 'ed25519')
    return {
      selector,
      algorithm: 'ed25519',
      privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKeyB64: spki.subarray(-32).toString('base64'),
    };
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`a ${key.asymmetricKeyType} key cannot sign DKIM`);
  return {
    selector,
    algorithm: 'rsa-2048',
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyB64: spki.toString('base64'),
  };
}
