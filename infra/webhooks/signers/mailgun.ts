import { createHmac, randomBytes } from 'node:crypto';
import type { Signer } from './signer.js';

/**
 * Mailgun signs inside the body: `signature: {timestamp, token, signature}` with signature the hex
 * HMAC-SHA256 of timestamp followed by token, keyed with the endpoint's signing secret (Mailgun's
 * "HTTP webhook signing key"). Made per attempt, with a fresh token, in front of the stored
 * `{"event-data": …}` (domain/webhooks/formats/mailgun.ts); only the current secret signs.
 */
export const mailgunSigner: Signer = async ({ delivery, timestamp }) => {
  const secret = delivery.secrets[0] ?? '';
  const token = randomBytes(25).toString('hex');
  const signature = createHmac('sha256', secret).update(`${timestamp}${token}`).digest('hex');
  const block = JSON.stringify({ timestamp: String(timestamp), token, signature });
  return { body: `{"signature":${block},${delivery.body.slice(1)}`, headers: {} };
};
