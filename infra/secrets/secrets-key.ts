import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../logging/index.js';

/** The file in the data dir that holds the key when POSTLOG_SECRETS_KEY is not set. */
export const SECRETS_KEY_FILE = 'secrets.key';

const generated = (path: string, logger: Logger) =>
  logger.warn(
    { file: path },
    'generated the key that encrypts stored SMTP secrets: back it up with the database (or set POSTLOG_SECRETS_KEY)',
  );

/** Whether a text is a secrets key: base64 of exactly 32 bytes. */
export function isSecretsKey(text: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(text.trim()) && Buffer.from(text.trim(), 'base64').length === 32;
}

/**
 * The key sealed secrets are encrypted with: POSTLOG_SECRETS_KEY (base64 of 32 bytes) or, when it
 * is unset, `secrets.key` in the data dir, made on first start with mode 600. Several processes
 * may start at once on one data dir: the file is written aside and linked into place, so exactly
 * one key wins and nobody reads half a file. Hosts that do not share a data dir (several machines
 * on one database) must all be given the same POSTLOG_SECRETS_KEY.
 */
export function loadSecretsKey(o: { configured?: string | undefined; dataDir: string; logger: Logger }): Buffer {
  if (o.configured !== undefined) {
    if (!isSecretsKey(o.configured)) throw new Error('POSTLOG_SECRETS_KEY: must be base64 of 32 random bytes');
    return Buffer.from(o.configured.trim(), 'base64');
  }
  const dir = resolve(o.dataDir);
  const path = join(dir, SECRETS_KEY_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = `${randomBytes(32).toString('base64')}\n`;
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, key, { mode: 0o600 });
  try {
    linkSync(aside, path);
    generated(path, o.logger);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // a file system without hard links (some volume drivers): an exclusive create of the one short line
    if (code !== 'EEXIST' && !existsSync(path)) {
      writeFileSync(path, key, { mode: 0o600, flag: 'wx' });
      generated(path, o.logger);
    } else if (code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(aside);
  }
  const text = readFileSync(path, 'utf8');
  if (!isSecretsKey(text)) throw new Error(`${path}: not a secrets key (base64 of 32 bytes); restore it from a backup`);
  if ((statSync(path).mode & 0o077) !== 0)
    o.logger.warn({ file: path }, 'the secrets key file is readable by other users: chmod 600 it');
  return Buffer.from(text.trim(), 'base64');
}
