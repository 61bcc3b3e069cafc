import { createPrivateKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

/** An endpoint's ECDSA P-256 key pair (the 'sendgrid' format): the private key as PKCS#8 PEM. */
export interface EcdsaKeyPair {
  privateKeyPem: string;
  /** base64 of the DER (SPKI) public key: what SendGrid shows as the verification key. */
  publicKey: string;
}

export async function newEcdsaKeyPair(): Promise<EcdsaKeyPair> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'prime256v1' });
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

export const ecdsaPrivateKey = (pem: string): KeyObject => createPrivateKey(pem);

/**
 * SendGrid's Event Webhook signature: base64 of the DER ECDSA-SHA256 signature of the timestamp
 * followed by the body, computed on libuv's thread pool.
 */
export const sendgridSignature = (timestamp: string, body: string, key: KeyObject) =>
  new Promise<string>((resolve, reject) =>
    sign('sha256', Buffer.from(timestamp + body), key, (err, signature) =>
      err ? reject(err) : resolve(signature.toString('base64')),
    ),
  );
