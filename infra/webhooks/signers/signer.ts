import type { KeyObject } from 'node:crypto';
import type { SigningKey } from '../signing-keys.js';
import type { LeasedDelivery } from '../webhook-outbox.js';

/** What an attempt is signed with. Keys are asked for only by the formats that use them. */
export interface SignInput {
  delivery: LeasedDelivery;
  /** This attempt's time, in unix seconds. */
  timestamp: number;
  /** Postlog's RSA key pair (X-Postal-Signature). */
  postalKey: () => Promise<SigningKey>;
  /** The endpoint's own ECDSA private key (the 'sendgrid' format); undefined when it has none. */
  ecdsaKey: () => KeyObject | undefined;
}

/** The signature headers of one attempt and the exact body sent (the stored body, or it with a signature in it). */
export type Signer = (input: SignInput) => Promise<{ headers: Record<string, string>; body: string }>;
