import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { rootCertificates } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { AdjustableClock } from '../../infra/clock/index.js';
import { MtaSts } from '../../mta/routing/mta-sts.js';
import type { MxResolver } from '../../mta/routing/router.js';
import { createTestCa } from '../helpers/test-ca.js';

/**
 * The MTA-STS policy cache (RFC 8461 §5.1), with time moved by hand: a real HTTPS policy server
 * on loopback with a test CA's certificate; the TXT records come from a table that the test edits.
 */
describe('MTA-STS: the policy cache follows the TXT id and max_age', () => {
  let server: Server;
  let port: number;
  let ca: string[];
  let served: string | undefined;
  let fetches = 0;
  const txt = new Map<string, string[]>();
  const txtQueries: string[] = [];
  const resolver: ConstructorParameters<typeof MtaSts>[0] = {
    resolveTxt: async (name: string) => {
      txtQueries.push(name);
      const records = txt.get(name);
      if (!records) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return records.map((r) => [r]);
    },
    resolve4: ((_name: string) => Promise.resolve(['127.0.0.1'])) as MxResolver['resolve4'],
    resolve6: ((_name: string) => Promise.resolve([] as string[])) as MxResolver['resolve6'],
  };
  const policy = (mode: string, mx: string, maxAge: number) =>
    `version: STSv1\nmode: ${mode}\nmx: ${mx}\nmax_age: ${maxAge}\n`;

  before(async () => {
    const testCa = await createTestCa();
    ca = [...rootCertificates, testCa.cert];
    const cert = await testCa.issue(['mta-sts.a.test', 'mta-sts.untrusted.test']);
    server = createServer(cert, (_req, res) => {
      fetches++;
      if (served === undefined) return res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(served);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise((r) => server.close(r)));

  it('fetches on a new id, keeps the policy while the id stays, refetches when it changes', async () => {
    const clock = new AdjustableClock('2026-12-06T00:00:00Z');
    const sts = new MtaSts(resolver, { clock, ca, port, recheckMs: 60_000 });
    fetches = 0;
    txt.set('_mta-sts.a.test', ['v=STSv1; id=one']);
    served = policy('enforce', 'mx.a.test', 3600);
    const first = await sts.policyFor('a.test');
    assert.deepEqual(first, {
      kind: 'policy',
      id: 'one',
      policy: { mode: 'enforce', mx: ['mx.a.test'], maxAge: 3600 },
    });
    await clock.advance(120_000);
    served = policy('testing', 'mx.a.test', 3600);
    assert.deepEqual(await sts.policyFor('a.test'), first, 'same id: not fetched again');
    assert.equal(fetches, 1);
    txt.set('_mta-sts.a.test', ['v=STSv1; id=two']);
    await clock.advance(120_000);
    const second = await sts.policyFor('a.test');
    assert.equal(second.kind === 'policy' && second.policy.mode, 'testing');
    assert.equal(fetches, 2);
  });

  it('a cached policy outlives a vanished TXT record and a dead policy server, until max_age', async () => {
    const clock = new AdjustableClock('2026-12-06T00:00:00Z');
    const sts = new MtaSts(resolver, { clock, ca, port, recheckMs: 60_000 });
    txt.set('_mta-sts.a.test', ['v=STSv1; id=three']);
    served = policy('enforce', '*.a.test', 600);
    assert.equal((await sts.policyFor('a.test')).kind, 'policy');
    txt.delete('_mta-sts.a.test');
    served = undefined;
    await clock.advance(300_000);
    assert.equal((await sts.policyFor('a.test')).kind, 'policy', 'no TXT record: the cached policy holds');
    txt.set('_mta-sts.a.test', ['v=STSv1; id=four']);
    await clock.advance(120_000);
    assert.equal((await sts.policyFor('a.test')).kind, 'policy', 'new id, server down: the cached policy holds');
    await clock.advance(300_000);
    const expired = await sts.policyFor('a.test');
    assert.equal(expired.kind, 'none', 'after max_age with no policy to be had: none');
    assert.equal(expired.kind === 'none' && expired.failure?.type, 'sts-policy-fetch-error');
  });

  it('a policy server whose certificate the CAs do not vouch for gives no policy (sts-webpki-invalid)', async () => {
    const clock = new AdjustableClock('2026-12-06T00:00:00Z');
    const sts = new MtaSts(resolver, { clock, ca: [...rootCertificates], port });
    txt.set('_mta-sts.untrusted.test', ['v=STSv1; id=x']);
    served = policy('enforce', 'mx.untrusted.test', 600);
    const r = await sts.policyFor('untrusted.test');
    assert.equal(r.kind === 'none' && r.failure?.type, 'sts-webpki-invalid', JSON.stringify(r));
  });

  it('a domain without a policy, or whose policy server fails, is asked again only after the recheck time', async () => {
    const clock = new AdjustableClock('2026-12-06T00:00:00Z');
    const sts = new MtaSts(resolver, { clock, ca, port, recheckMs: 60_000 });
    txtQueries.length = 0;
    assert.deepEqual(await sts.policyFor('nopolicy.test'), { kind: 'none' });
    assert.deepEqual(await sts.policyFor('nopolicy.test'), { kind: 'none' });
    assert.deepEqual(txtQueries, ['_mta-sts.nopolicy.test'], 'one TXT query within the recheck time');
    txt.set('_mta-sts.a.test', ['v=STSv1; id=down']);
    served = undefined;
    fetches = 0;
    await sts.policyFor('a.test');
    await sts.policyFor('a.test');
    assert.equal(fetches, 1, 'a dead policy server is not asked per batch');
    await clock.advance(61_000);
    await sts.policyFor('nopolicy.test');
    assert.equal(txtQueries.filter((q) => q === '_mta-sts.nopolicy.test').length, 2);
  });

  it('an invalid policy file gives no policy (sts-policy-invalid)', async () => {
    const clock = new AdjustableClock('2026-12-06T00:00:00Z');
    const sts = new MtaSts(resolver, { clock, ca, port });
    txt.set('_mta-sts.a.test', ['v=STSv1; id=bad']);
    served = '<html>maintenance</html>';
    const r = await sts.policyFor('a.test');
    assert.equal(r.kind === 'none' && r.failure?.type, 'sts-policy-invalid');
  });

  it('remembers a bounded number of domains without a policy, the least recently used out first', async () => {
    const clock = new AdjustableClock('2026-12-06T00:00:00Z');
    const sts = new MtaSts(resolver, { clock, ca, port, maxDomains: 2 });
    txtQueries.length = 0;
    for (const d of ['n1', 'n2', 'n1', 'n3', 'n1', 'n2']) await sts.policyFor(`${d}.test`);
    // n2 was pushed out by n3 (n1 had been used since): asked again; n1 never was
    assert.deepEqual(txtQueries, ['_mta-sts.n1.test', '_mta-sts.n2.test', '_mta-sts.n3.test', '_mta-sts.n2.test']);
  });
});
