import { postlogSignatureHeader, rsaSignatureAsync } from '../signatures.js';
import type { Signer } from './signer.js';

/** Postal's RSA signatures and Postlog's HMAC, as every endpoint was signed before formats. */
export const postalSigner: Signer = async ({ delivery, timestamp, postalKey }) => {
  const key = await postalKey();
  const [sha256, sha1] = await Promise.all([
    rsaSignatureAsync(delivery.body, key.privateKey),
    rsaSignatureAsync(delivery.body, key.privateKey, 'sha1'),
  ]);
  return {
    body: delivery.body,
    headers: {
      // both, as Postal 3.3 sends them (lib/postal/http.rb): receivers written for older Postal check the SHA-1 one
      'x-postal-signature': sha1,
      'x-postal-signature-256': sha256,
      'x-postal-signature-kid': key.kid,
      'x-postlog-signature': postlogSignatureHeader(delivery.secrets, timestamp, delivery.body),
      'x-postlog-timestamp': String(timestamp),
    },
  };
};
