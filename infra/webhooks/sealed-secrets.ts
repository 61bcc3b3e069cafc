import type { SealedColumn } from '../secrets/index.js';

/** An endpoint's current and previous secret share a context: a rotation moves one column to the other. */
export const webhookSecretContext = (endpointId: string) => `webhook:${endpointId}`;
export const signingKeyContext = (purpose: string) => `signing-key:${purpose}`;

/** The webhook tables' sealed secrets (infra/secrets seals what is left in plaintext, re-seals, counts). */
export const webhookSealedColumns: SealedColumn[] = [
  {
    what: 'webhook endpoint secrets',
    table: 'webhook_endpoints',
    id: 'id',
    sealed: 'secret_sealed',
    plaintext: 'secret',
    context: webhookSecretContext,
  },
  {
    what: 'previous webhook endpoint secrets',
    table: 'webhook_endpoints',
    id: 'id',
    sealed: 'previous_secret_sealed',
    plaintext: 'previous_secret',
    context: webhookSecretContext,
  },
  {
    what: 'webhook signing keys',
    table: 'signing_keys',
    id: 'purpose',
    sealed: 'private_key_sealed',
    plaintext: 'private_key_pem',
    context: signingKeyContext,
  },
];
