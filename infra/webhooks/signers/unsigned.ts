import type { Signer } from './signer.js';

/**
 * Postmark and Listmonk sign nothing: their receivers check HTTP Basic auth, which the poster sends
 * from the endpoint URL's user info (infra/http/outbound.ts).
 */
export const unsignedSigner: Signer = async ({ delivery }) => ({ body: delivery.body, headers: {} });
