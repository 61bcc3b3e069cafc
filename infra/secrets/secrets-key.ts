import { randomBytes } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../logging/index.js';
import { SecretBox } from './secret-box.js';

/** The file in the data dir that holds the key when POSTLOG_SECRETS_KEY is not set. */
export const SECRETS_KEY_FILE = 'secrets.key';

const generated = (path: string, logger: Logger) =>
  logger.warn(
    { file: path },
    'generated the key that encrypts stored secrets: back it up with the database (or set POSTLOG_SECRETS_KEY)',
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
  return loadKeyFile(o.dataDir, o.logger)[0];
}

/** The keys of the data dir's key file, made on first start: one a line, the sealing key first. */
function loadKeyFile(dataDir: string, logger: Logger): [Buffer, ...Buffer[]] {
  const o = { dataDir, logger };
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
  if ((statSync(path).mode & 0o077) !== 0)
    o.logger.warn({ file: path }, 'the secrets key file is readable by other users: chmod 600 it');
  return readKeyFile(path);
}

/**
 * A key file's keys: base64 of 32 bytes a line, the sealing key on the first line, the keys it
 * replaced below it (`postlog secrets rotate` adds a line on top; they keep opening old values
 * and backups). Blank lines and lines from `#` are ignored.
 */
function readKeyFile(path: string): [Buffer, ...Buffer[]] {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '');
  if (lines.length === 0 || !lines.every(isSecretsKey))
    throw new Error(`${path}: not a secrets key (base64 of 32 bytes a line); restore it from a backup`);
  return lines.map((l) => Buffer.from(l, 'base64')) as [Buffer, ...Buffer[]];
}

/** Where the keys come from: POSTLOG_SECRETS_KEY (and POSTLOG_SECRETS_PREVIOUS_KEYS), or the data dir's file. */
export interface SecretsKeySettings {
  configured?: string | undefined;
  /** Keys that sealed before the configured one: comma-separated base64, opening only. */
  previous?: string | undefined;
  dataDir: string;
  logger: Logger;
}

/** Every key that opens, the sealing key first. */
export function loadSecretKeys(o: SecretsKeySettings): [Buffer, ...Buffer[]] {
  if (o.configured === undefined) {
    if (o.previous) throw new Error('POSTLOG_SECRETS_PREVIOUS_KEYS: only with POSTLOG_SECRETS_KEY');
    return loadKeyFile(o.dataDir, o.logger);
  }
  const previous = (o.previous ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  if (!previous.every(isSecretsKey))
    throw new Error('POSTLOG_SECRETS_PREVIOUS_KEYS: base64 keys of 32 bytes, separated by commas');
  return [loadSecretsKey(o), ...previous.map((k) => Buffer.from(k, 'base64'))];
}

/**
 * The secret box of a process. With the key file, the box reads the file again once it changed
 * (a stat before each seal and on an unknown key id): a rotation needs no restart.
 */
export function secretBoxFor(o: SecretsKeySettings): SecretBox {
  const keys = loadSecretKeys(o);
  if (o.configured !== undefined) return new SecretBox(keys);
  const path = join(resolve(o.dataDir), SECRETS_KEY_FILE);
  return new SecretBox(keys, {
    stamp: () => {
      const st = statSync(path);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    },
    read: () => readKeyFile(path),
  });
}

/**
 * Puts a new random key on top of the data dir's key file (it seals from now on; the others keep
 * opening). Written aside and renamed into place: a reader sees the old file or the new one.
 * Returns the new key.
 */
export function addKeyToFile(o: { dataDir: string; logger: Logger }): Buffer {
  const old = loadKeyFile(o.dataDir, o.logger);
  const path = join(resolve(o.dataDir), SECRETS_KEY_FILE);
  const key = randomBytes(32);
  const aside = `${path}.${process.pid}.rotate`;
  writeFileSync(aside, [key, ...old].map((k) => `${k.toString('base64')}\n`).join(''), { mode: 0o600 });
  renameSync(aside, path);
  return key;
}
