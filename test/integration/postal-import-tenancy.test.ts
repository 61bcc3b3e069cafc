import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CreateServer, systemActor, type Server } from '../../domain/index.js';
import { TenancyStore } from '../../infra/tenancy/index.js';
import { createTestDatabase, testSecretBox, type TestDatabase } from '../helpers/database.js';

const actor = systemActor('test');
const dns = { spfInclude: 'spf.postlog.test', returnPathTarget: 'rp.postlog.test', trackTarget: 'track.test' };

describe("tenancy's import paths (Postal): given secrets, any SMTP username, given DKIM keys", () => {
  let db: TestDatabase;
  let t: TenancyStore;
  let a: Server;
  let b: Server;
  const must = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
    assert.ok(r.ok, JSON.stringify(r));
    return (r as { value: T }).value;
  };
  before(async () => {
    db = await createTestDatabase();
    t = new TenancyStore(db.pool, dns, testSecretBox());
    const org = must(await t.createOrganization(actor, { name: 'Acme' }));
    a = must(await t.createServer(actor, org.id, CreateServer.parse({ name: 'a' })));
    b = must(await t.createServer(actor, org.id, CreateServer.parse({ name: 'b' })));
  });
  after(async () => db?.drop());

  it('an imported API key authenticates as itself; importing it again answers the same credential', async () => {
    const input = { kind: 'api' as const, name: 'app', identifier: 'PostalA', secret: 'PostalApiKey000000000009' };
    const first = must(await t.importCredential(actor, a.id, input));
    assert.equal(first.created, true);
    assert.equal((await t.authenticateApiKey(input.secret))?.id, a.id);
    const again = must(await t.importCredential(actor, a.id, input));
    assert.deepEqual([again.created, again.credential.id], [false, first.credential.id]);
    const elsewhere = await t.importCredential(actor, b.id, input);
    assert.equal(elsewhere.ok ? 'ok' : elsewhere.error.code, 'CONFLICT');
  });

  it("an imported SMTP login takes any username (Postal's rule); Postlog's own logins still need theirs", async () => {
    const secret = 'PostalSmtpPass0000000009';
    must(await t.importCredential(actor, a.id, { kind: 'smtp', name: 'relay', identifier: 'acme/a/9', secret }));
    assert.equal((await t.authenticateSmtp('anything', secret))?.id, a.id);
    assert.equal(await t.authenticateSmtp('anything', 'wrong-password'), undefined);
    const own = must(await t.createCredential(actor, a.id, { kind: 'smtp', name: 'own' }));
    assert.equal(await t.authenticateSmtp('anything', own.secret), undefined);
    assert.equal((await t.authenticateSmtp(own.credential.identifier, own.secret))?.id, a.id);
  });

  it('an imported domain keeps its key, selector and verification; a PKCS#1 key is read', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const verifiedAt = new Date('2025-05-05T05:05:05Z');
    const d = must(
      await t.importDomain(actor, a.id, {
        name: 'Example.com',
        verifiedAt,
        verificationToken: 'tok',
        dkim: { selector: 'postal-ABCDEF', privateKeyPem: pem },
      }),
    );
    assert.deepEqual([d.name, d.verified, d.verifiedAt], ['example.com', true, verifiedAt.toISOString()]);
    const record = d.dnsRecords.find((r) => r.purpose === 'dkim');
    const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    assert.deepEqual(
      [record?.name, record?.value],
      ['postal-ABCDEF._domainkey.example.com', `v=DKIM1; k=rsa; p=${spki}`],
    );
    const signing = await t.sendingDomain(a.id, 'example.com');
    assert.equal(signing?.signingKeys[0]?.selector, 'postal-ABCDEF');
    const again = await t.importDomain(actor, a.id, {
      name: 'example.com',
      verifiedAt: null,
      verificationToken: null,
      dkim: null,
    });
    assert.equal(again.ok ? 'ok' : again.error.code, 'CONFLICT');
    const broken = await t.importDomain(actor, b.id, {
      name: 'example.com',
      verifiedAt: null,
      verificationToken: null,
      dkim: { selector: 's', privateKeyPem: 'not a key' },
    });
    assert.equal(broken.ok ? 'ok' : broken.error.code, 'INVALID');
  });
});
