import { generateSecret, generateURI, verify } from 'otplib';

/**
 * Time-based one-time codes (RFC 6238) as authenticator apps use them: SHA-1, 6 digits, 30 s. A
 * code of the step before or after is accepted too (clock drift); the time is passed in.
 */
export const newTotpSecret = (): string => generateSecret();

export function totpUri(secret: string, account: string, issuer = 'Postlog'): string {
  return generateURI({ issuer, label: account, secret });
}

export async function totpCodeValid(secret: string, code: string, now: Date): Promise<boolean> {
  if (!/^\d{6}$/.test(code)) return false;
  const result = await verify({ secret, token: code, epoch: Math.floor(now.getTime() / 1000), epochTolerance: 30 });
  return result.valid;
}
