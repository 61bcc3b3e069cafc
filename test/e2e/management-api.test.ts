/**
 * The management REST API (organizations, servers, domains, credentials, admin tokens, DKIM
 * rotation, audit log) over real HTTP against a real running Postlog. Domain verification runs
 * against a small authoritative DNS server in this process (POSTLOG_DNS_SERVERS points at it).
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { systemActor } from '../../domain/index.js';
import { http, startTestApp, type TestApp } from '../helpers/app.js';

// ---- a tiny DNS server: TXT and CNAME answers from a map, NXDOMAIN for unknown names --------

interface FakeDns {
  address: string;
  txt: Map<string, string[]>;
  cname: Map<string, string>;
  close(): Promise<void>;
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([Buffer.byteLength(p)]), Buffer.from(p)])),
    Buffer.from([0]),
  ]);
}

async function startFakeDns(): Promise<FakeDns> {
  const txt = new Map<string, string[]>();
  const cname = new Map<string, string>();
  const socket: Socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    if (query.length < 12) return;
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset] !== 0) {
      const len = query[offset]!;
      labels.push(query.subarray(offset + 1, offset + 1 + len).toString());
      offset += 1 + len;
    }
    offset += 1;
    const qtype = query.readUInt16BE(offset);
    const questionEnd = offset + 4;
    const name = labels.join('.').toLowerCase();
    const answers: Buffer[] = [];
    const rr = (type: number, rdata: Buffer) => {
      const head = Buffer.alloc(12);
      head.writeUInt16BE(0xc00c, 0); // pointer to the question's name
      head.writeUInt16BE(type, 2);
      head.writeUInt16BE(1, 4); // IN
      head.writeUInt32BE(60, 6);
      head.writeUInt16BE(rdata.length, 10);
      answers.push(head, rdata);
    };
    const known = txt.has(name) || cname.has(name);
    if (qtype === 16) {
      for (const value of txt.get(name) ?? []) {
        const chunks: Buffer[] = [];
        const bytes = Buffer.from(value);
        for (let i = 0; i < bytes.length; i += 255) {
          const chunk = bytes.subarray(i, i + 255);
          chunks.push(Buffer.from([chunk.length]), chunk);
        }
        rr(16, Buffer.concat(chunks));
      }
    } else if (qtype === 5) {
      const target = cname.get(name);
      if (target) rr(5, encodeName(target));
    }
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // response, recursion desired+available, NOERROR/NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length / 2, 6);
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address();
  return {
    address: `127.0.0.1:${port}`,
    txt,
    cname,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

// ---- helpers -------------------------------------------------------------------------------

interface DnsRecordJson {
  purpose: string;
  type: string;
  name: string;
  value: string;
  required: boolean;
}
interface DkimKeyJson {
  selector: string;
  algorithm: string;
  publicKeyB64: string;
  active: boolean;
  retiredAt: string | null;
}
interface DomainJson {
  id: string;
  name: string;
  verified: boolean;
  verifiedAt: string | null;
  returnPathDomain: string;
  dkimKeys: DkimKeyJson[];
  dnsRecords: DnsRecordJson[];
}
interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  organizationId: string | null;
  serverId: string | null;
  before: any;
  after: any;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function recordsOf(domain: DomainJson, purpose: string): DnsRecordJson[] {
  return domain.dnsRecords.filter((r) => r.purpose === purpose);
}

function single<T>(list: T[], what: string): T {
  assert.equal(list.length, 1, `exactly one ${what}: ${JSON.stringify(list)}`);
  return list[0]!;
}

/** The p= of a DKIM TXT value. */
function dkimP(value: string): string {
  const p = /(?:^|;\s*)p=([A-Za-z0-9+/=]+)\s*$/.exec(value)?.[1];
  assert.ok(p, `a p= tag in ${value}`);
  return p;
}

describe('management API', () => {
  let testApp: TestApp;
  let dns: FakeDns;
  let globalToken: string;
  let globalTokenId: string;

  const g = () => bearer(globalToken);
  const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = g()) =>
    http(testApp.url, method, path, { headers, ...(body !== undefined ? { body } : {}) });

  async function newOrg(name: string): Promise<string> {
    const res = await api('POST', '/v2/organizations', { name });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }
  async function newServer(orgId: string, body: Record<string, unknown> = { name: 'Main' }): Promise<string> {
    const res = await api('POST', `/v2/organizations/${orgId}/servers`, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }
  async function newDomain(serverId: string, body: Record<string, unknown>): Promise<DomainJson> {
    const res = await api('POST', `/v2/servers/${serverId}/domains`, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as DomainJson;
  }
  async function newApiKey(serverId: string, name = 'key'): Promise<{ id: string; secret: string }> {
    const res = await api('POST', `/v2/servers/${serverId}/credentials`, { kind: 'api', name });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { id: res.body.credential.id, secret: res.body.secret };
  }
  const send = (apiKey: string, from: string, to = 'someone@example.com') =>
    http(testApp.url, 'POST', '/v2/messages', {
      headers: { 'x-server-api-key': apiKey },
      body: { from, to: [to], subject: 'Hi', text: 'Hello' },
    });
  async function audit(query = '', headers = g()): Promise<AuditEntry[]> {
    const res = await api('GET', `/v2/audit${query}`, undefined, headers);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.entries as AuditEntry[];
  }

  before(async () => {
    dns = await startFakeDns();
    testApp = await startTestApp({ POSTLOG_DNS_SERVERS: dns.address });
    const created = await testApp.app.tenancy.createAdminToken(systemActor('t'), { name: 'g', organizationId: null });
    if (!created.ok) throw new Error(JSON.stringify(created.error));
    globalToken = created.value.secret;
    globalTokenId = created.value.token.id;
  });
  after(async () => {
    await testApp?.stop();
    await dns?.close();
  });

  it('creates an organization, a server, and a domain whose answer lists every DNS record to publish', async () => {
    const org = await api('POST', '/v2/organizations', { name: '  Acme  ' });
    assert.equal(org.status, 201, JSON.stringify(org.body));
    assert.match(org.body.id, UUID);
    assert.equal(org.body.name, 'Acme', 'trimmed');
    const got = await api('GET', `/v2/organizations/${org.body.id}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, org.body);

    const server = await api('POST', `/v2/organizations/${org.body.id}/servers`, { name: 'Transactional' });
    assert.equal(server.status, 201, JSON.stringify(server.body));
    assert.equal(server.body.organizationId, org.body.id);
    assert.equal(server.body.name, 'Transactional');
    assert.equal(server.body.mode, 'live');
    assert.equal(server.body.sendLimitPerHour, null);
    assert.equal(server.body.retentionDays, 30);
    assert.equal(server.body.suspended, false);
    assert.equal(server.body.suspendedReason, null);
    const servers = await api('GET', `/v2/organizations/${org.body.id}/servers`);
    assert.equal(servers.status, 200);
    assert.deepEqual(
      servers.body.servers.map((s: { id: string }) => s.id),
      [server.body.id],
    );

    const res = await api('POST', `/v2/servers/${server.body.id}/domains`, { name: 'Mail.Acme.TEST.' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const domain = res.body as DomainJson;
    assert.equal(domain.name, 'mail.acme.test', 'lower-cased, without the root dot');
    assert.equal(domain.verified, false);
    assert.equal(domain.verifiedAt, null);
    assert.equal(domain.returnPathDomain, 'psrp.mail.acme.test');
    assert.doesNotMatch(JSON.stringify(domain), /PRIVATE KEY|privateKey/i, 'private keys never leave the server');
    assert.deepEqual(
      domain.dnsRecords.map((r) => r.purpose),
      ['verification', 'spf', 'dkim', 'return-path', 'dmarc'],
    );

    const verification = single(recordsOf(domain, 'verification'), 'verification record');
    assert.equal(verification.type, 'TXT');
    assert.equal(verification.name, 'mail.acme.test');
    assert.match(verification.value, /^postlog-verification=[A-Za-z0-9]{24}$/);
    assert.equal(verification.required, true);

    const spf = single(recordsOf(domain, 'spf'), 'SPF record');
    assert.deepEqual(
      [spf.type, spf.name, spf.value],
      ['TXT', 'mail.acme.test', 'v=spf1 a mx include:spf.postlog.test ~all'],
    );

    const dkim = single(recordsOf(domain, 'dkim'), 'DKIM record');
    const key = single(domain.dkimKeys, 'DKIM key');
    assert.equal(dkim.type, 'TXT');
    assert.match(key.selector, /^pl-[a-z0-9]{6}$/);
    assert.equal(dkim.name, `${key.selector}._domainkey.mail.acme.test`);
    assert.match(dkim.value, /^v=DKIM1; k=rsa; p=/);
    assert.equal(dkimP(dkim.value), key.publicKeyB64);
    const publicKey = createPublicKey({ key: Buffer.from(dkimP(dkim.value), 'base64'), format: 'der', type: 'spki' });
    assert.equal(publicKey.asymmetricKeyType, 'rsa');
    assert.equal(publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.deepEqual([key.algorithm, key.active, key.retiredAt], ['rsa-2048', true, null]);

    const returnPath = single(recordsOf(domain, 'return-path'), 'return-path record');
    assert.deepEqual(
      [returnPath.type, returnPath.name, returnPath.value],
      ['CNAME', 'psrp.mail.acme.test', 'rp.postlog.test'],
    );

    const dmarc = single(recordsOf(domain, 'dmarc'), 'DMARC record');
    assert.equal(dmarc.type, 'TXT');
    assert.equal(dmarc.name, '_dmarc.mail.acme.test');
    assert.match(dmarc.value, /^v=DMARC1; p=none; rua=mailto:dmarc-reports@mail\.acme\.test$/);

    const again = await api('GET', `/v2/domains/${domain.id}`);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.dnsRecords, domain.dnsRecords, 'the records are stable');
    const list = await api('GET', `/v2/servers/${server.body.id}/domains`);
    assert.deepEqual(
      list.body.domains.map((d: DomainJson) => d.name),
      ['mail.acme.test'],
    );
  });

  it('ed25519: true adds an Ed25519 DKIM record (RFC 8463 raw key) next to the RSA one', async () => {
    const serverId = await newServer(await newOrg('Dual'));
    const domain = await newDomain(serverId, { name: 'dual.test', ed25519: true });
    const records = recordsOf(domain, 'dkim');
    assert.equal(records.length, 2);
    const rsa = single(
      domain.dkimKeys.filter((k) => k.algorithm === 'rsa-2048'),
      'RSA key',
    );
    const ed = single(
      domain.dkimKeys.filter((k) => k.algorithm === 'ed25519'),
      'Ed25519 key',
    );
    assert.equal(ed.selector, `${rsa.selector}-ed`);
    const edRecord = single(
      records.filter((r) => r.name === `${ed.selector}._domainkey.dual.test`),
      'Ed25519 record',
    );
    assert.match(edRecord.value, /^v=DKIM1; k=ed25519; p=/);
    const raw = Buffer.from(dkimP(edRecord.value), 'base64');
    assert.equal(raw.length, 32, 'the bare 32-byte public key');
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
    assert.equal(createPublicKey({ key: spki, format: 'der', type: 'spki' }).asymmetricKeyType, 'ed25519');
    const rsaRecord = single(
      records.filter((r) => r.name === `${rsa.selector}._domainkey.dual.test`),
      'RSA record',
    );
    assert.match(rsaRecord.value, /^v=DKIM1; k=rsa; p=/);
  });

  it('refuses a duplicate domain (409) and a name that is no domain (400)', async () => {
    const serverId = await newServer(await newOrg('Dupes'));
    await newDomain(serverId, { name: 'dupe.test' });
    for (const name of ['dupe.test', 'DUPE.test', 'dupe.test.']) {
      const dup = await api('POST', `/v2/servers/${serverId}/domains`, { name });
      assert.equal(dup.status, 409, `${name}: ${JSON.stringify(dup.body)}`);
      assert.equal(dup.body.code, 'CONFLICT');
    }
    for (const name of ['not a domain', 'nodots', 'a..b.test', '-lead.test', 'under_score.test']) {
      const bad = await api('POST', `/v2/servers/${serverId}/domains`, { name });
      assert.equal(bad.status, 400, `${name}: ${JSON.stringify(bad.body)}`);
      assert.equal(bad.body.code, 'INVALID');
      assert.deepEqual(
        bad.body.fields.map((f: { path: string }) => f.path),
        ['name'],
      );
    }
    const schema = await api('POST', `/v2/servers/${serverId}/domains`, { name: 'x.test', dkim: 'rsa-1024' });
    assert.equal(schema.status, 400);
    assert.equal(schema.body.code, 'VALIDATION_FAILED');
    const list = await api('GET', `/v2/servers/${serverId}/domains`);
    assert.deepEqual(
      list.body.domains.map((d: DomainJson) => d.name),
      ['dupe.test'],
      'nothing else was created',
    );
    const unknownServer = await api('POST', '/v2/servers/00000000-0000-4000-8000-000000000000/domains', {
      name: 'y.test',
    });
    assert.equal(unknownServer.status, 404);
  });

  it('credentials: the secret is shown once, lists never carry it, the key sends from a verified domain, revoking it takes effect at once', async () => {
    const serverId = await newServer(await newOrg('Creds'));
    await newDomain(serverId, { name: 'unproven.test' });
    await newDomain(serverId, { name: 'vouched.test', verified: true });

    const created = await api('POST', `/v2/servers/${serverId}/credentials`, { kind: 'api', name: 'ci' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const secret = created.body.secret as string;
    assert.match(secret, /^[A-Za-z0-9]{32}$/);
    assert.equal(created.body.credential.kind, 'api');
    assert.equal(created.body.credential.name, 'ci');
    assert.equal(created.body.credential.identifier, secret.slice(0, 6));
    assert.equal(created.body.credential.revoked, false);
    assert.equal(created.body.credential.lastUsedAt, null);
    const smtp = await api('POST', `/v2/servers/${serverId}/credentials`, { kind: 'smtp' });
    assert.equal(smtp.status, 201);
    assert.match(smtp.body.credential.identifier, /^smtp-[a-z0-9]{12}$/);
    assert.equal(smtp.body.credential.name, 'default');
    const smtpSecret = smtp.body.secret as string;

    const sent = await send(secret, 'app@vouched.test');
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.messages[0].status, 'queued');
    const unproven = await send(secret, 'app@unproven.test');
    assert.equal(unproven.status, 422);
    assert.equal(unproven.body.code, 'UNAUTHENTICATED_FROM_ADDRESS');

    const list = await api('GET', `/v2/servers/${serverId}/credentials`);
    assert.equal(list.status, 200);
    const text = JSON.stringify(list.body);
    assert.ok(!text.includes(secret) && !text.includes(smtpSecret), 'no secret in the list');
    assert.doesNotMatch(text, /"secret/i);
    assert.equal(list.body.credentials.length, 2);
    const listed = list.body.credentials.find((c: { id: string }) => c.id === created.body.credential.id);
    assert.equal(typeof listed.lastUsedAt, 'string', 'the use was recorded');
    assert.ok(!JSON.stringify(await audit()).includes(secret), 'nor in the audit log');

    const revoked = await api('DELETE', `/v2/credentials/${created.body.credential.id}`);
    assert.equal(revoked.status, 204);
    // the key was just used (and is in the 5 s cache): revocation through this API clears it
    const refused = await send(secret, 'app@vouched.test');
    assert.equal(refused.status, 401, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'INVALID_API_KEY');
    const after = await api('GET', `/v2/servers/${serverId}/credentials`);
    assert.equal(after.body.credentials.find((c: { id: string }) => c.id === created.body.credential.id).revoked, true);
    assert.equal(after.body.credentials.find((c: { id: string }) => c.id === smtp.body.credential.id).revoked, false);

    const unknown = await api('DELETE', '/v2/credentials/00000000-0000-4000-8000-000000000000');
    assert.equal(unknown.status, 404);
    const badKind = await api('POST', `/v2/servers/${serverId}/credentials`, { kind: 'ftp' });
    assert.equal(badKind.status, 400);
    assert.equal(badKind.body.code, 'VALIDATION_FAILED');
  });

  it('verifies a domain only once its verification TXT record is published', async () => {
    const serverId = await newServer(await newOrg('Verify'));
    const domain = await newDomain(serverId, { name: 'proof.test' });
    const key = await newApiKey(serverId);

    const before = await api('POST', `/v2/domains/${domain.id}/verify`);
    assert.equal(before.status, 200, JSON.stringify(before.body));
    assert.equal(before.body.verified, false);
    assert.equal(before.body.domain.verified, false);
    assert.deepEqual(
      before.body.checks.map((c: { purpose: string }) => c.purpose),
      ['verification', 'spf', 'dkim', 'return-path', 'dmarc'],
    );
    assert.ok(
      before.body.checks.every((c: { ok: boolean; found: string[] }) => !c.ok && c.found.length === 0),
      JSON.stringify(before.body.checks),
    );
    assert.equal((await send(key.secret, 'a@proof.test')).status, 422);

    // a wrong token proves nothing
    dns.txt.set('proof.test', ['postlog-verification=somebody-elses-token']);
    const wrong = await api('POST', `/v2/domains/${domain.id}/verify`);
    assert.equal(wrong.body.verified, false);

    const verification = single(recordsOf(domain, 'verification'), 'verification record');
    const dkim = single(recordsOf(domain, 'dkim'), 'DKIM record');
    dns.txt.set('proof.test', [verification.value, 'v=spf1 include:_spf.other.test include:spf.postlog.test ~all']);
    dns.txt.set(dkim.name, [dkim.value]); // longer than 255 bytes: published in several strings
    dns.cname.set('psrp.proof.test', 'rp.postlog.test');
    dns.txt.set('_dmarc.proof.test', ['v=DMARC1; p=reject']);
    const proven = await api('POST', `/v2/domains/${domain.id}/verify`);
    assert.equal(proven.status, 200);
    assert.equal(proven.body.verified, true, JSON.stringify(proven.body.checks));
    assert.deepEqual(
      proven.body.checks.map((c: { purpose: string; ok: boolean }) => [c.purpose, c.ok]),
      [
        ['verification', true],
        ['spf', true],
        ['dkim', true],
        ['return-path', true],
        ['dmarc', true],
      ],
    );
    assert.equal(typeof proven.body.domain.verifiedAt, 'string');
    const got = await api('GET', `/v2/domains/${domain.id}`);
    assert.equal(got.body.verified, true);

    const sent = await send(key.secret, 'a@proof.test');
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const entry = (await audit()).find((e) => e.action === 'verify' && e.entityId === domain.id);
    assert.ok(entry, 'the verification is audited');
    assert.equal(entry.before.verified, false);
    assert.equal(entry.after.verified, true);
  });

  it('rotates DKIM keys: a new active selector, the old key retired, both published', async () => {
    const serverId = await newServer(await newOrg('Rotate'));
    const domain = await newDomain(serverId, { name: 'rotate.test' });
    const old = single(domain.dkimKeys, 'DKIM key');
    const res = await api('POST', `/v2/domains/${domain.id}/dkim/rotate`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const rotated = res.body as DomainJson;
    assert.equal(rotated.dkimKeys.length, 2);
    const retired = single(
      rotated.dkimKeys.filter((k) => k.selector === old.selector),
      'old key',
    );
    assert.equal(retired.active, false);
    assert.equal(typeof retired.retiredAt, 'string');
    assert.equal(retired.publicKeyB64, old.publicKeyB64);
    const fresh = single(
      rotated.dkimKeys.filter((k) => k.active),
      'active key',
    );
    assert.notEqual(fresh.selector, old.selector);
    assert.match(fresh.selector, /^pl-[a-z0-9]{6}$/);
    assert.equal(fresh.retiredAt, null);
    assert.notEqual(fresh.publicKeyB64, old.publicKeyB64);
    assert.deepEqual(
      recordsOf(rotated, 'dkim')
        .map((r) => r.name)
        .sort(),
      [`${old.selector}._domainkey.rotate.test`, `${fresh.selector}._domainkey.rotate.test`].sort(),
    );
    assert.equal(
      createPublicKey({ key: Buffer.from(fresh.publicKeyB64, 'base64'), format: 'der', type: 'spki' })
        .asymmetricKeyDetails?.modulusLength,
      2048,
    );

    // a dual-signing domain gets a new pair
    const dual = await newDomain(serverId, { name: 'dual-rotate.test', ed25519: true });
    const dualRotated = (await api('POST', `/v2/domains/${dual.id}/dkim/rotate`)).body as DomainJson;
    assert.equal(dualRotated.dkimKeys.length, 4);
    const active = dualRotated.dkimKeys.filter((k) => k.active);
    assert.deepEqual(active.map((k) => k.algorithm).sort(), ['ed25519', 'rsa-2048']);
    const activeRsa = active.find((k) => k.algorithm === 'rsa-2048')!;
    assert.ok(active.some((k) => k.selector === `${activeRsa.selector}-ed`));
    assert.equal(recordsOf(dualRotated, 'dkim').length, 4);

    const entry = (await audit()).find((e) => e.action === 'rotate-dkim' && e.entityId === domain.id);
    assert.ok(entry);
    assert.equal(entry.actor, `admin-token:${globalTokenId}`);
    assert.equal(entry.before.dkimKeys.length, 1);
    assert.equal(entry.after.dkimKeys.length, 2);
    assert.equal(entry.serverId, serverId);
  });

  it('PATCH /v2/servers/{id}: mode, limits and suspension, reflected in GET and in the send API at once', async () => {
    const serverId = await newServer(await newOrg('Patch'));
    await newDomain(serverId, { name: 'patch.test', verified: true });
    const key = await newApiKey(serverId);
    assert.equal((await send(key.secret, 'a@patch.test')).body.messages[0].status, 'queued');

    const patched = await api('PATCH', `/v2/servers/${serverId}`, {
      mode: 'development',
      suspended: true,
      suspendedReason: 'billing',
      sendLimitPerHour: 500,
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const got = await api('GET', `/v2/servers/${serverId}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.mode, 'development');
    assert.equal(got.body.suspended, true);
    assert.equal(got.body.suspendedReason, 'billing');
    assert.equal(got.body.sendLimitPerHour, 500);
    assert.deepEqual(got.body, patched.body);

    // the key's server was cached as live and active: the change through this API applies at once
    const suspended = await send(key.secret, 'a@patch.test');
    assert.equal(suspended.status, 403, JSON.stringify(suspended.body));
    assert.equal(suspended.body.code, 'SERVER_SUSPENDED');
    assert.match(suspended.body.message, /billing/);

    const renamed = await api('PATCH', `/v2/servers/${serverId}`, { name: 'Renamed' });
    assert.deepEqual(
      [renamed.body.name, renamed.body.mode, renamed.body.sendLimitPerHour, renamed.body.suspendedReason],
      ['Renamed', 'development', 500, 'billing'],
      'other fields unchanged',
    );
    const noLimit = await api('PATCH', `/v2/servers/${serverId}`, { sendLimitPerHour: null });
    assert.equal(noLimit.body.sendLimitPerHour, null);
    const resumed = await api('PATCH', `/v2/servers/${serverId}`, { suspended: false });
    assert.equal(resumed.body.suspended, false);
    assert.equal(resumed.body.suspendedReason, null, 'lifting a suspension clears its reason');

    const held = await send(key.secret, 'a@patch.test');
    assert.equal(held.status, 202, JSON.stringify(held.body));
    assert.deepEqual([held.body.messages[0].status, held.body.messages[0].held_reason], ['held', 'development_mode']);

    const badMode = await api('PATCH', `/v2/servers/${serverId}`, { mode: 'test' });
    assert.equal(badMode.status, 400);
    assert.equal(badMode.body.code, 'VALIDATION_FAILED');
    const unknownField = await api('PATCH', `/v2/servers/${serverId}`, { owner: 'me' });
    assert.equal(unknownField.status, 400);
    const missing = await api('PATCH', '/v2/servers/00000000-0000-4000-8000-000000000000', { name: 'x' });
    assert.equal(missing.status, 404);
    const notUuid = await api('GET', '/v2/servers/123');
    assert.equal(notUuid.status, 400);
    assert.equal(notUuid.body.code, 'VALIDATION_FAILED');

    const update = (await audit()).find(
      (e) =>
        e.action === 'update' &&
        e.entityType === 'server' &&
        e.entityId === serverId &&
        e.after.mode === 'development' &&
        e.before.mode === 'live',
    );
    assert.ok(update, 'the first PATCH is in the audit log');
    assert.equal(update.actor, `admin-token:${globalTokenId}`);
    assert.deepEqual(
      [update.before.suspended, update.after.suspended, update.after.suspendedReason],
      [false, true, 'billing'],
    );
  });

  it('GET /v2/audit: who changed what, newest first, with before and after, paged', async () => {
    const orgId = await newOrg('Audited');
    const serverId = await newServer(orgId, { name: 'Audited server' });
    const renamed = await api('PATCH', `/v2/organizations/${orgId}`, { name: 'Audited Inc' });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.name, 'Audited Inc');

    const entries = await audit();
    const ids = entries.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
      'newest first',
    );
    const actor = `admin-token:${globalTokenId}`;

    const createOrg = entries.find(
      (e) => e.action === 'create' && e.entityType === 'organization' && e.entityId === orgId,
    );
    assert.ok(createOrg);
    assert.equal(createOrg.actor, actor);
    assert.equal(createOrg.organizationId, orgId);
    assert.equal(createOrg.before, null);
    assert.deepEqual([createOrg.after.id, createOrg.after.name], [orgId, 'Audited']);
    assert.ok(Math.abs(Date.parse(createOrg.at) - Date.now()) < 60_000);

    const createServer = entries.find(
      (e) => e.action === 'create' && e.entityType === 'server' && e.entityId === serverId,
    );
    assert.ok(createServer);
    assert.deepEqual(
      [createServer.actor, createServer.organizationId, createServer.serverId, createServer.after.name],
      [actor, orgId, serverId, 'Audited server'],
    );

    const rename = entries.find(
      (e) => e.action === 'update' && e.entityType === 'organization' && e.entityId === orgId,
    );
    assert.ok(rename);
    assert.deepEqual([rename.before.name, rename.after.name], ['Audited', 'Audited Inc']);
    assert.ok(rename.id > createServer.id && createServer.id > createOrg.id);

    // the token made outside HTTP is audited with its own actor
    const tokenEntry = entries.find((e) => e.entityType === 'admin-token' && e.entityId === globalTokenId);
    assert.ok(tokenEntry);
    assert.deepEqual([tokenEntry.action, tokenEntry.actor], ['create', 't']);
    assert.doesNotMatch(
      JSON.stringify(entries),
      /PRIVATE KEY|plt_[A-Za-z0-9]{40}/,
      'no key material, no token secrets',
    );

    const two = await audit('?limit=2');
    assert.deepEqual(
      two.map((e) => e.id),
      ids.slice(0, 2),
    );
    const page = await audit(`?limit=3&before=${ids[1]}`);
    assert.deepEqual(
      page.map((e) => e.id),
      ids.slice(2, 5),
    );
    const badLimit = await api('GET', '/v2/audit?limit=0');
    assert.equal(badLimit.status, 400);
  });

  it('an organization admin sees and changes only its own organization', async () => {
    const mine = await newOrg('Mine');
    const theirs = await newOrg('Theirs');
    const myServer = await newServer(mine);
    const theirServer = await newServer(theirs);
    const theirDomain = await newDomain(theirServer, { name: 'theirs.test' });
    const theirKey = await newApiKey(theirServer);

    const token = await api('POST', '/v2/admin-tokens', { name: 'mine-admin', organizationId: mine });
    assert.equal(token.status, 201, JSON.stringify(token.body));
    const secret = token.body.secret as string;
    assert.match(secret, /^plt_[A-Za-z0-9]{40}$/);
    assert.equal(token.body.token.organizationId, mine);
    assert.equal(token.body.token.tokenPrefix, secret.slice(0, 10));
    const as = bearer(secret);

    const createOrg = await api('POST', '/v2/organizations', { name: 'Sneaky' }, as);
    assert.equal(createOrg.status, 403);
    assert.equal(createOrg.body.code, 'FORBIDDEN');
    const orgs = await api('GET', '/v2/organizations', undefined, as);
    assert.equal(orgs.status, 200);
    assert.deepEqual(
      orgs.body.organizations.map((o: { id: string }) => o.id),
      [mine],
    );
    const allOrgs = await api('GET', '/v2/organizations');
    assert.ok(allOrgs.body.organizations.length > 2, 'the global admin sees them all');

    assert.equal((await api('GET', `/v2/servers/${myServer}`, undefined, as)).status, 200);
    const denied: [string, string, unknown?][] = [
      ['GET', `/v2/organizations/${theirs}`],
      ['PATCH', `/v2/organizations/${theirs}`, { name: 'Pwned' }],
      ['GET', `/v2/organizations/${theirs}/servers`],
      ['POST', `/v2/organizations/${theirs}/servers`, { name: 'Implant' }],
      ['GET', `/v2/servers/${theirServer}`],
      ['PATCH', `/v2/servers/${theirServer}`, { suspended: true }],
      ['DELETE', `/v2/servers/${theirServer}`],
      ['POST', `/v2/servers/${theirServer}/domains`, { name: 'implant.test' }],
      ['GET', `/v2/servers/${theirServer}/domains`],
      ['GET', `/v2/domains/${theirDomain.id}`],
      ['POST', `/v2/domains/${theirDomain.id}/dkim/rotate`],
      ['POST', `/v2/domains/${theirDomain.id}/verify`],
      ['DELETE', `/v2/domains/${theirDomain.id}`],
      ['POST', `/v2/servers/${theirServer}/credentials`, { kind: 'api' }],
      ['GET', `/v2/servers/${theirServer}/credentials`],
      ['DELETE', `/v2/credentials/${theirKey.id}`],
      ['POST', '/v2/admin-tokens', { organizationId: theirs }],
    ];
    for (const [method, path, body] of denied) {
      const res = await api(method, path, body, as);
      assert.equal(res.status, 404, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    // nothing of theirs changed
    const theirsNow = await api('GET', `/v2/servers/${theirServer}`);
    assert.deepEqual([theirsNow.body.suspended, theirsNow.body.name], [false, 'Main']);
    assert.equal((await api('GET', `/v2/organizations/${theirs}`)).body.name, 'Theirs');
    assert.equal((await api('GET', `/v2/domains/${theirDomain.id}`)).body.dkimKeys.length, 1);

    const globalToken = await api('POST', '/v2/admin-tokens', { name: 'escalate', organizationId: null }, as);
    assert.equal(globalToken.status, 403);
    const deleteOrg = await api('DELETE', `/v2/organizations/${mine}`, undefined, as);
    assert.equal(deleteOrg.status, 403);
    const tokens = await api('GET', '/v2/admin-tokens', undefined, as);
    assert.ok(tokens.body.adminTokens.length >= 1);
    assert.ok(
      tokens.body.adminTokens.every((t: { organizationId: string | null }) => t.organizationId === mine),
      JSON.stringify(tokens.body),
    );
    assert.doesNotMatch(JSON.stringify(tokens.body), /plt_[A-Za-z0-9]{40}/);

    const ownAudit = await audit('', as);
    assert.ok(ownAudit.length >= 2, "its own organization's changes");
    assert.ok(
      ownAudit.every((e) => e.organizationId === mine),
      JSON.stringify(ownAudit.map((e) => e.organizationId)),
    );
    assert.ok(ownAudit.some((e) => e.entityType === 'server' && e.entityId === myServer));

    // a change by the org admin is audited under its own token id
    const own = await api('PATCH', `/v2/servers/${myServer}`, { name: 'Mine renamed' }, as);
    assert.equal(own.status, 200);
    const byOrgAdmin = (await audit()).find((e) => e.action === 'update' && e.entityId === myServer);
    assert.equal(byOrgAdmin?.actor, `admin-token:${token.body.token.id}`);

    // revoked by the global admin: refused at once
    const revoke = await api('DELETE', `/v2/admin-tokens/${token.body.token.id}`);
    assert.equal(revoke.status, 204);
    const afterRevoke = await api('GET', '/v2/organizations', undefined, as);
    assert.equal(afterRevoke.status, 401);
    assert.equal(afterRevoke.body.code, 'INVALID_ADMIN_TOKEN');
  });

  it('an organization admin cannot mark a domain verified without DNS proof', async () => {
    const victim = await newOrg('Victim');
    const victimServer = await newServer(victim);
    await newDomain(victimServer, { name: 'victim-brand.test', verified: true });
    const attacker = await newOrg('Attacker');
    const attackerServer = await newServer(attacker);
    const token = await api('POST', '/v2/admin-tokens', { organizationId: attacker });
    const claim = await api(
      'POST',
      `/v2/servers/${attackerServer}/domains`,
      { name: 'victim-brand.test', verified: true },
      bearer(token.body.secret),
    );
    assert.equal(claim.status, 403, JSON.stringify(claim.body));
  });

  it('an organization admin cannot lift a suspension the operator imposed', async () => {
    const org = await newOrg('Suspended tenant');
    const serverId = await newServer(org);
    assert.equal(
      (await api('PATCH', `/v2/servers/${serverId}`, { suspended: true, suspendedReason: 'abuse' })).status,
      200,
    );
    const token = await api('POST', '/v2/admin-tokens', { organizationId: org });
    const lift = await api('PATCH', `/v2/servers/${serverId}`, { suspended: false }, bearer(token.body.secret));
    assert.equal(lift.status, 403, JSON.stringify(lift.body));
    assert.equal((await api('GET', `/v2/servers/${serverId}`)).body.suspended, true);
  });

  it('deletes an organization only once its servers are gone', async () => {
    const orgId = await newOrg('Short-lived');
    const serverId = await newServer(orgId);
    const domain = await newDomain(serverId, { name: 'gone.test', verified: true });
    const key = await newApiKey(serverId);
    assert.equal((await send(key.secret, 'a@gone.test')).status, 202);
    const orgToken = await api('POST', '/v2/admin-tokens', { organizationId: orgId });
    assert.equal(orgToken.status, 201);

    const blocked = await api('DELETE', `/v2/organizations/${orgId}`);
    assert.equal(blocked.status, 409);
    assert.equal(blocked.body.code, 'CONFLICT');
    assert.equal((await api('GET', `/v2/organizations/${orgId}`)).status, 200);

    const delServer = await api('DELETE', `/v2/servers/${serverId}`);
    assert.equal(delServer.status, 204);
    assert.equal(delServer.body, '');
    assert.equal((await api('GET', `/v2/servers/${serverId}`)).status, 404);
    assert.equal((await api('GET', `/v2/domains/${domain.id}`)).status, 404, 'its domains went with it');
    const keyGone = await send(key.secret, 'a@gone.test');
    assert.equal(keyGone.status, 401, 'its credentials went with it');
    assert.equal(keyGone.body.code, 'INVALID_API_KEY');

    const delOrg = await api('DELETE', `/v2/organizations/${orgId}`);
    assert.equal(delOrg.status, 204);
    assert.equal((await api('GET', `/v2/organizations/${orgId}`)).status, 404);
    assert.equal((await api('DELETE', `/v2/organizations/${orgId}`)).status, 404);
    const orphan = await api('GET', '/v2/organizations', undefined, bearer(orgToken.body.secret));
    assert.equal(orphan.status, 401, "the organization's admin tokens went with it");

    const entries = await audit();
    assert.ok(
      entries.some(
        (e) =>
          e.action === 'delete' &&
          e.entityType === 'server' &&
          e.entityId === serverId &&
          e.after === null &&
          e.before.id === serverId,
      ),
    );
    assert.ok(entries.some((e) => e.action === 'delete' && e.entityType === 'organization' && e.entityId === orgId));
  });

  it('needs an admin token: none 401, an API key 401, an unknown token 401', async () => {
    const none = await http(testApp.url, 'GET', '/v2/organizations');
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'UNAUTHENTICATED');
    const noneCreate = await http(testApp.url, 'POST', '/v2/organizations', { body: { name: 'x' } });
    assert.equal(noneCreate.status, 401);

    const serverId = await newServer(await newOrg('Keys only'));
    const key = await newApiKey(serverId);
    const viaHeader = await http(testApp.url, 'GET', '/v2/organizations', {
      headers: { 'x-server-api-key': key.secret },
    });
    assert.equal(viaHeader.status, 401);
    assert.equal(viaHeader.body.code, 'UNAUTHENTICATED');
    const viaBearer = await http(testApp.url, 'GET', '/v2/organizations', { headers: bearer(key.secret) });
    assert.equal(viaBearer.status, 401);
    assert.equal(viaBearer.body.code, 'UNAUTHENTICATED');
    const viaKeyOnServer = await http(testApp.url, 'GET', `/v2/servers/${serverId}`, {
      headers: { 'x-server-api-key': key.secret },
    });
    assert.equal(viaKeyOnServer.status, 401, "not even for the key's own server");

    const unknown = await http(testApp.url, 'GET', '/v2/organizations', { headers: bearer(`plt_${'x'.repeat(40)}`) });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.code, 'INVALID_ADMIN_TOKEN');
  });

  it('documents the management routes in the OpenAPI document', async () => {
    const doc = await http(testApp.url, 'GET', '/docs/json');
    assert.equal(doc.status, 200);
    for (const path of [
      '/v2/organizations',
      '/v2/organizations/{id}/servers',
      '/v2/servers/{id}/domains',
      '/v2/domains/{id}/dkim/rotate',
      '/v2/credentials/{id}',
      '/v2/audit',
    ]) {
      assert.ok(doc.body.paths[path], `${path} in ${Object.keys(doc.body.paths).join(', ')}`);
    }
    assert.deepEqual(doc.body.paths['/v2/organizations'].post.security, [{ adminToken: [] }, { session: [] }]);
  });
});
