/**
 * DANE (RFC 7672) against real peers on loopback: zones signed with ldns-signzone and served by nsd,
 * validated by unbound with the test's own trust anchors (no root), and smtp-server sinks whose
 * certificates the zones' TLSA records match (DANE-EE 3 1 1, DANE-TA 2 0 1 with the test CA) or not.
 * Postlog does not trust the test CA: only DNSSEC vouches for the certificates.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { missingDnssecTool, startValidatingDns, type ValidatingDns } from '../helpers/dnssec-dns.js';
import { freePort } from '../helpers/ports.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { createTestCa } from '../helpers/test-ca.js';
import { sendV2, waitForStatus } from '../helpers/v2-messages.js';

const missing = missingDnssecTool();
const skip = missing ? `${missing} is not installed (apt-get install ${missing}; .ci/run does it)` : false;

interface Attempt {
  type: string;
  data: {
    reason?: string;
    delivery?: {
      mxHost?: string;
      tlsPolicy?: { policy: string; source: string; domain: string; failure?: { type: string; detail: string } };
    };
  };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** "3 1 1 <sha-256 of the certificate's public key>": DANE-EE of this certificate. */
const eeRecord = (pem: string) =>
  `3 1 1 ${sha256(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }))}`;

describe('DANE: TLSA records signed with DNSSEC decide how mail goes', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let dns: ValidatingDns;
  const sinks: Record<string, SmtpSink> = {};

  const send = (to: string) =>
    sendV2(t.url, tenant.apiKey, { from: 'app@sender.test', to: [to], subject: 'DANE', text: `Hello ${to}` });
  const waitFor = async (id: string, status: string): Promise<Attempt[]> => {
    await waitForStatus(t.url, tenant.apiKey, id, status);
    return (await t.app.eventStore.readStream(`message-${id}`)) as unknown as Attempt[];
  };
  const lastAttempt = (events: Attempt[]) =>
    events.filter((e) => e.type === 'MessageDelivered' || e.type === 'MessageDeferred').at(-1)!;

  before(async () => {
    const ca = await createTestCa();
    const mtaPort = await freePort();
    const okCert = await ca.issue(['mx.ok.dane.test']);
    // a certificate nobody publishes a TLSA record for: "wrong" records name its key instead
    const otherCert = await ca.issue(['elsewhere.test']);
    const taCert = await ca.issue(['mx2.fallback.dane.test']);
    sinks.ok = await startSmtpSink('127.0.26.10', mtaPort, { certificate: okCert });
    sinks.mismatch = await startSmtpSink('127.0.26.20', mtaPort, { certificate: await ca.issue(['mx1.fallback']) });
    // DANE-TA: the host sends its certificate and the CA's (RFC 7672 §3.2.1)
    sinks.ta = await startSmtpSink('127.0.26.30', mtaPort, {
      certificate: { key: taCert.key, cert: `${taCert.cert.trim()}\n${ca.cert}` },
    });
    sinks.wrong = await startSmtpSink('127.0.26.40', mtaPort);
    sinks.bogus = await startSmtpSink('127.0.26.50', mtaPort, { certificate: okCert });
    sinks.plain = await startSmtpSink('127.0.26.60', mtaPort);
    const wrongTlsa = eeRecord(otherCert.cert);
    dns = await startValidatingDns([
      {
        origin: 'dane.test',
        signed: true,
        records: [
          'ok IN MX 10 mx.ok',
          'mx.ok IN A 127.0.26.10',
          `_25._tcp.mx.ok IN TLSA ${eeRecord(okCert.cert)}`,
          'fallback IN MX 10 mx1.fallback',
          'fallback IN MX 20 mx2.fallback',
          'mx1.fallback IN A 127.0.26.20',
          `_25._tcp.mx1.fallback IN TLSA ${wrongTlsa}`,
          'mx2.fallback IN A 127.0.26.30',
          `_25._tcp.mx2.fallback IN TLSA 2 0 1 ${sha256(new X509Certificate(ca.cert).raw)}`,
          'wrong IN MX 10 mx.wrong',
          'mx.wrong IN A 127.0.26.40',
          `_25._tcp.mx.wrong IN TLSA ${wrongTlsa}`,
          'bogus IN MX 10 mx.bogus',
          'mx.bogus IN A 127.0.26.50',
          `_25._tcp.mx.bogus IN TLSA ${eeRecord(okCert.cert)}`,
        ],
        tamper: ['_25._tcp.mx.bogus'],
      },
      {
        // not signed: its TLSA record (a wrong one) means nothing
        origin: 'plain.test',
        signed: false,
        records: ['@ IN MX 10 mx', 'mx IN A 127.0.26.60', `_25._tcp.mx IN TLSA ${wrongTlsa}`],
      },
      { origin: 'sender.test', signed: false, records: ['@ IN A 127.0.0.1'] },
    ]);
    t = await startTestApp({
      POSTLOG_MTA_PORT: String(mtaPort),
      POSTLOG_DNS_SERVERS: dns.resolver,
      POSTLOG_DANE: 'true',
      POSTLOG_DANE_RESOLVER: dns.resolver,
      POSTLOG_RETRY_DELAYS: '1',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_ROLES: 'api,mta,projector',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => {
    await t?.stop();
    await Promise.all(Object.values(sinks).map((s) => s.close()));
    await dns?.stop();
  });

  it('a matching DANE-EE record (3 1 1): delivered over TLS, recorded as dane', async () => {
    const events = await waitFor(await send('ann@ok.dane.test'), 'delivered');
    assert.deepEqual(lastAttempt(events).data.delivery?.tlsPolicy, {
      policy: 'dane',
      source: 'dns',
      domain: 'ok.dane.test',
    });
    assert.equal(sinks.ok!.received.length, 1);
    assert.equal(sinks.ok!.received[0]!.secure, true);
  });

  it('a mismatching record: nothing goes to that MX, the next MX (DANE-TA 2 0 1) takes the message', async () => {
    const events = await waitFor(await send('bob@fallback.dane.test'), 'delivered');
    const attempt = lastAttempt(events);
    assert.equal(attempt.data.delivery?.mxHost, 'mx2.fallback.dane.test');
    assert.equal(attempt.data.delivery?.tlsPolicy?.policy, 'dane');
    assert.equal(sinks.ta!.received.length, 1);
    assert.equal(sinks.mismatch!.received.length, 0, 'the MX whose certificate no TLSA record matches gets nothing');
  });

  it('no MX whose certificate matches: deferred with the reason, nothing sent', async () => {
    const events = await waitFor(await send('cat@wrong.dane.test'), 'deferred');
    const deferral = lastAttempt(events);
    assert.match(deferral.data.reason ?? '', /^DANE: no MX host of wrong\.dane\.test could be used securely/);
    assert.equal(deferral.data.delivery?.tlsPolicy?.policy, 'dane');
    assert.equal(deferral.data.delivery?.tlsPolicy?.failure?.type, 'tlsa-invalid');
    assert.equal(sinks.wrong!.received.length, 0);
  });

  it('a TLSA record whose signature does not validate (bogus): deferred, nothing sent', async () => {
    const events = await waitFor(await send('dan@bogus.dane.test'), 'deferred');
    const deferral = lastAttempt(events);
    assert.match(deferral.data.reason ?? '', /failed DNSSEC validation/);
    assert.equal(deferral.data.delivery?.tlsPolicy?.failure?.type, 'dnssec-invalid');
    assert.equal(sinks.bogus!.received.length, 0, 'even though its certificate would match');
  });

  it('an unsigned zone: its TLSA record is ignored, opportunistic TLS as the MTA default says', async () => {
    const events = await waitFor(await send('eve@plain.test'), 'delivered');
    assert.deepEqual(lastAttempt(events).data.delivery?.tlsPolicy, {
      policy: 'opportunistic',
      source: 'default',
      domain: 'plain.test',
    });
    assert.equal(sinks.plain!.received.length, 1);
  });

  it('counts DANE attempts for TLS-RPT under the policy type tlsa', async () => {
    const day = new Date().toISOString().slice(0, 10);
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    const counts = async (domain: string) => {
      const res = await http(t.url, 'GET', `/v2/tls-reports?domain=${domain}&day=${day}`, {
        headers: { authorization: `Bearer ${token.value.secret}` },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.counts as { policyType: string; successes: number; failures: number; failureTypes: object }[];
    };
    const deadline = Date.now() + 15_000;
    while ((await counts('ok.dane.test')).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      (await counts('ok.dane.test')).map((c) => [c.policyType, c.successes, c.failures]),
      [['tlsa', 1, 0]],
    );
    const [wrong] = await counts('wrong.dane.test');
    assert.equal(wrong?.policyType, 'tlsa');
    assert.ok((wrong?.failures ?? 0) >= 1);
    assert.deepEqual(Object.keys(wrong?.failureTypes ?? {}), ['tlsa-invalid']);
    const [bogus] = await counts('bogus.dane.test');
    assert.deepEqual(Object.keys(bogus?.failureTypes ?? {}), ['dnssec-invalid']);
  });
});
