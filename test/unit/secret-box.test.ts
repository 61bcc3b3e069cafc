import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  addKeyToFile,
  loadSecretKeys,
  loadSecretsKey,
  SECRETS_KEY_FILE,
  SecretBox,
  secretBoxFor,
  secretKeyId,
} from '../../infra/secrets/index.js';
import { testLogger } from '../helpers/database.js';

describe('the secret box (AES-256-GCM)', () => {
  const key = randomBytes(32);
  const box = new SecretBox([key]);

  it('opens what it sealed, with a new nonce each time and the key named in the envelope', () => {
    const a = box.seal('hunter2', 'credential:1');
    const b = box.seal('hunter2', 'credential:1');
    assert.notEqual(a, b);
    assert.equal(a.split('.')[1], secretKeyId(key));
    assert.equal(Buffer.from(a.split('.')[2]!, 'base64url').length, 12);
    assert.ok(!a.includes('hunter2'));
    assert.deepEqual(box.open(a, 'credential:1'), { ok: true, value: 'hunter2' });
  });

  it('refuses another context, a changed byte, an unknown key and garbage', () => {
    const sealed = box.seal('hunter2', 'credential:1');
    assert.equal(box.open(sealed, 'credential:2').ok, false);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    const changed = [...parts.slice(0, 3), body.toString('base64url')].join('.');
    assert.deepEqual(box.open(changed, 'credential:1').ok ? 'opened' : 'refused', 'refused');
    const other = new SecretBox([randomBytes(32)]).open(sealed, 'credential:1');
    assert.ok(!other.ok && other.error.code === 'UNKNOWN_KEY');
    const garbage = box.open('plain text', 'credential:1');
    assert.ok(!garbage.ok && garbage.error.code === 'MALFORMED');
  });

  it('seals with its first key and still opens what older keys sealed (rotation)', () => {
    const next = randomBytes(32);
    const rotated = new SecretBox([next, key]);
    assert.equal(rotated.keyId, secretKeyId(next));
    assert.deepEqual(rotated.open(box.seal('old', 'c'), 'c'), { ok: true, value: 'old' });
    assert.equal(box.open(rotated.seal('new', 'c'), 'c').ok, false);
  });

  it('takes only 32-byte keys', () => {
    assert.throws(() => new SecretBox([randomBytes(16)]), /32 bytes/);
  });
});

describe('the secrets key', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'postlog-secrets-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('is made once in the data dir with mode 600, and read again on the next start', () => {
    const dir = join(dataDir(), 'data');
    const first = loadSecretsKey({ dataDir: dir, logger: testLogger });
    assert.equal(first.length, 32);
    assert.equal(statSync(join(dir, SECRETS_KEY_FILE)).mode & 0o777, 0o600);
    assert.deepEqual(loadSecretsKey({ dataDir: dir, logger: testLogger }), first);
    assert.deepEqual(readdirSync(dir), [SECRETS_KEY_FILE], 'nothing left aside');
  });

  it('comes from POSTLOG_SECRETS_KEY when it is set, and then no file is made', () => {
    const dir = dataDir();
    const key = randomBytes(32);
    assert.deepEqual(loadSecretsKey({ configured: key.toString('base64'), dataDir: dir, logger: testLogger }), key);
    assert.deepEqual(readdirSync(dir), []);
    assert.throws(
      () => loadSecretsKey({ configured: randomBytes(16).toString('base64'), dataDir: dir, logger: testLogger }),
      /POSTLOG_SECRETS_KEY/,
    );
  });

  it('refuses a key file that is not a key rather than making a new one', () => {
    const dir = dataDir();
    writeFileSync(join(dir, SECRETS_KEY_FILE), 'not a key\n', { mode: 0o600 });
    assert.throws(() => loadSecretsKey({ dataDir: dir, logger: testLogger }), /restore it from a backup/);
  });

  it('rotates in the key file: the new key on top seals, the old ones below still open, mode 600 kept', () => {
    const dir = dataDir();
    const first = loadSecretsKey({ dataDir: dir, logger: testLogger });
    const added = addKeyToFile({ dataDir: dir, logger: testLogger });
    assert.deepEqual(loadSecretKeys({ dataDir: dir, logger: testLogger }), [added, first]);
    assert.equal(statSync(join(dir, SECRETS_KEY_FILE)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), [SECRETS_KEY_FILE], 'nothing left aside');
  });

  it('a running box reads the key file again after a rotation: it opens and seals with the new key', () => {
    const dir = dataDir();
    const box = secretBoxFor({ dataDir: dir, logger: testLogger });
    const old = box.seal('kept', 'row:1');
    const rotated = secretBoxFor({ dataDir: dir, logger: testLogger });
    const added = addKeyToFile({ dataDir: dir, logger: testLogger });
    // another process (the rotation) seals under the new key: the running box opens it without a restart
    const fresh = new SecretBox([added]).seal('new', 'row:2');
    assert.deepEqual(box.open(fresh, 'row:2'), { ok: true, value: 'new' });
    assert.equal(box.keyId, secretKeyId(added));
    assert.equal(rotated.seal('x', 'row:3').split('.')[1], secretKeyId(added));
    assert.deepEqual(box.open(old, 'row:1'), { ok: true, value: 'kept' }, 'the old key still opens');
  });

  it('with POSTLOG_SECRETS_KEY, the previous keys only open; without it they are refused', () => {
    const [current, previous] = [randomBytes(32), randomBytes(32)];
    const o = { configured: current.toString('base64'), dataDir: dataDir(), logger: testLogger };
    const box = secretBoxFor({ ...o, previous: previous.toString('base64') });
    assert.equal(box.keyId, secretKeyId(current));
    assert.deepEqual(box.open(new SecretBox([previous]).seal('old', 'c'), 'c'), { ok: true, value: 'old' });
    assert.throws(() => secretBoxFor({ ...o, previous: 'short' }), /POSTLOG_SECRETS_PREVIOUS_KEYS/);
    assert.throws(
      () => secretBoxFor({ dataDir: dataDir(), logger: testLogger, previous: previous.toString('base64') }),
      /only with POSTLOG_SECRETS_KEY/,
    );
  });
});
