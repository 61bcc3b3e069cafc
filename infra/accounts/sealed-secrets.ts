import type { SealedColumn } from '../secrets/index.js';

export const totpSecretContext = (userId: string) => `totp:${userId}`;

/** The accounts tables' sealed secrets (infra/secrets seals what is left in plaintext, re-seals, counts). */
export const accountsSealedColumns: SealedColumn[] = [
  {
    what: 'TOTP secrets',
    table: 'users',
    id: 'id',
    sealed: 'totp_secret_sealed',
    plaintext: 'totp_secret',
    context: totpSecretContext,
  },
];
