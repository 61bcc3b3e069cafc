import { Algorithm, hash, verify } from '@node-rs/argon2';

/**
 * Passwords of dashboard users, kept as argon2id hashes (OWASP's first choice: 19 MiB, 2 passes,
 * one lane). Verification takes ~20-40 ms by design; login throttling keeps that from being a
 * lever against the server.
 */
const OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** NIST SP 800-63B: at least 8 characters, long passphrases allowed; we ask for 10. */
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;

export function passwordProblem(password: string): string | undefined {
  if (password.length < PASSWORD_MIN) return `a password needs at least ${PASSWORD_MIN} characters`;
  if (password.length > PASSWORD_MAX) return `a password has at most ${PASSWORD_MAX} characters`;
  return undefined;
}

export const hashPassword = (password: string): Promise<string> => hash(password, OPTIONS);

/**
 * A hash to verify against when the account does not exist, so that "no such user" takes as long
 * as "wrong password" (no user enumeration by timing).
 */
let decoy: Promise<string> | undefined;

export async function verifyPassword(stored: string | null | undefined, password: string): Promise<boolean> {
  if (!stored) {
    decoy ??= hashPassword('postlog-decoy-password');
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  return verify(stored, password).catch(() => false);
}
