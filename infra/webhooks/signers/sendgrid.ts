import { sendgridSignature } from '../ecdsa-keys.js';
import type { Signer } from './signer.js';

/**
 * SendGrid's Signed Event Webhook: ECDSA P-256 over the timestamp followed by the body, with the
 * endpoint's own key pair (its public key is in the endpoint's API answer).
 */
export const sendgridSigner: Signer = async ({ delivery, timestamp, ecdsaKey }) => {
  const key = ecdsaKey();
  if (!key) throw new Error('the endpoint has no ECDSA key to sign its SendGrid-format webhooks with');
  return {
    body: delivery.body,
    headers: {
      'x-twilio-email-event-webhook-signature': await sendgridSignature(String(timestamp), delivery.body, key),
      'x-twilio-email-event-webhook-timestamp': String(timestamp),
    },
  };
};
