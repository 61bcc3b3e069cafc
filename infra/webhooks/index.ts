export {
  WebhookStore,
  type WebhookEndpoint,
  type WebhookDelivery,
  type WebhookAttempt,
  type DeliveryStatus,
} from './webhook-store.js';
export { WebhookOutbox, type LeasedDelivery, type AttemptOutcome, type RetryPolicy } from './webhook-outbox.js';
export { SigningKeys, jwkThumbprint, type SigningKey, type PublicJwk } from './signing-keys.js';
export {
  rsaSignature,
  rsaSha1Signature,
  rsaSignatureAsync,
  verifyRsaSignature,
  postlogSignatureHeader,
  verifyPostlogSignature,
  hmacOf,
} from './signatures.js';
export { WEBHOOK_DELIVERIES, WEBHOOK_MESSAGES } from './schema.js';
export {
  enabledEndpoints,
  insertOutboxRows,
  loadMessageFacts,
  saveMessageFacts,
  type OutboxEndpoint,
  type OutboxRow,
} from './outbox-writes.js';
export { webhookSealedColumns } from './sealed-secrets.js';
