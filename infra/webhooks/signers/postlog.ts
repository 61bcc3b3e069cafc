import { postlogSignatureHeader } from '../signatures.js';
import type { Signer } from './signer.js';

/** X-Postlog-Signature alone: the HMAC of "<t>.<body>" with the endpoint's secret. */
export const postlogSigner: Signer = async ({ delivery, timestamp }) => ({
  body: delivery.body,
  headers: {
    'x-postlog-signature': postlogSignatureHeader(delivery.secrets, timestamp, delivery.body),
    'x-postlog-timestamp': String(timestamp),
  },
});
