import type { SealedColumn } from '../secrets/index.js';
import { sealContext } from './credentials.js';

export const dkimKeyContext = (dkimKeyId: string) => `dkim:${dkimKeyId}`;
/** A server's current and previous tracking key share a context: a rotation moves one column to the other. */
export const trackingKeyContext = (serverId: string) => `tracking:${serverId}`;

/** The tenancy tables' sealed secrets (infra/secrets seals what is left in plaintext, re-seals, counts). */
export const tenancySealedColumns: SealedColumn[] = [
  {
    what: 'DKIM private keys',
    table: 'dkim_keys',
    id: 'id',
    sealed: 'private_key_sealed',
    plaintext: 'private_key_pem',
    context: dkimKeyContext,
  },
  {
    what: 'tracking keys',
    table: 'servers',
    id: 'id',
    sealed: 'tracking_secret_sealed',
    plaintext: 'tracking_secret',
    context: trackingKeyContext,
  },
  {
    what: 'previous tracking keys',
    table: 'servers',
    id: 'id',
    sealed: 'tracking_secret_previous_sealed',
    plaintext: 'tracking_secret_previous',
    context: trackingKeyContext,
  },
  // SMTP passwords and SES secret keys: sealed since migration 27 (credentials.ts), never in plaintext
  {
    what: 'SMTP passwords and SES secret keys',
    table: 'credentials',
    id: 'id',
    sealed: 'secret_sealed',
    context: sealContext,
  },
];
