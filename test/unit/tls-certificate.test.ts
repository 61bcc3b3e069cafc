import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadTlsMaterial } from '../../infra/tls/certificate.js';
import { testLogger } from '../helpers/database.js';

const dirs: string[] = [];
const dataDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'postlog-tls-'));
  dirs.push(d);
  return d;
};
const matches = (m: { cert: string; key: string }) =>
  new X509Certificate(m.cert).checkPrivateKey(createPrivateKey(m.key));

describe('the SMTP TLS certificate', () => {
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('makes a self-signed pair once, in the data dir, and uses it again on the next start', async () => {
    const dir = dataDir();
    const first = await loadTlsMaterial({ dataDir: dir, hostname: 'mx.example.test', logger: testLogger });
    assert.ok(first.selfSigned && matches(first));
    assert.match(new X509Certificate(first.cert).subjectAltName ?? '', /mx\.example\.test/);
    const again = await loadTlsMaterial({ dataDir: dir, hostname: 'mx.example.test', logger: testLogger });
    assert.equal(again.cert, first.cert);
    assert.deepEqual(
      readdirSync(join(dir, 'tls')).sort(),
      ['smtp-self-signed.crt', 'smtp-self-signed.key'],
      'nothing left aside',
    );
  });

  it('replaces a key and certificate that do not belong together with a new pair', async () => {
    const dir = dataDir();
    const first = await loadTlsMaterial({ dataDir: dir, hostname: 'mx.example.test', logger: testLogger });
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    writeFileSync(join(dir, 'tls', 'smtp-self-signed.key'), otherKey);
    const repaired = await loadTlsMaterial({ dataDir: dir, hostname: 'mx.example.test', logger: testLogger });
    assert.ok(matches(repaired));
    assert.notEqual(repaired.cert, first.cert);
  });

  it("uses the operator's files as they are, and refuses one without the other", async () => {
    const dir = dataDir();
    const made = await loadTlsMaterial({ dataDir: dir, hostname: 'mx.example.test', logger: testLogger });
    const certFile = join(dir, 'own.crt');
    const keyFile = join(dir, 'own.key');
    writeFileSync(certFile, made.cert);
    writeFileSync(keyFile, made.key);
    const own = await loadTlsMaterial({ certFile, keyFile, dataDir: dataDir(), hostname: 'x', logger: testLogger });
    assert.deepEqual(own, { cert: made.cert, key: made.key, selfSigned: false });
    await assert.rejects(
      loadTlsMaterial({ certFile, dataDir: dir, hostname: 'x', logger: testLogger }),
      /set both POSTLOG_TLS_CERT_FILE and POSTLOG_TLS_KEY_FILE/,
    );
  });
});
