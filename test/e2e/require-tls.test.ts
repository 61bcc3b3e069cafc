/**
 * REQUIRETLS (RFC 8689) against real peers on loopback: Postlog's submission listener takes
 * `MAIL FROM:<…> REQUIRETLS` (over TLS only), /v2 takes `require_tls`, and the MTA delivers such
 * mail through dnsmasq only to smtp-server sinks that offer STARTTLS with a certificate from the
 * test's CA and advertise REQUIRETLS, passing the parameter on; others bounce it with 5.7.30.
 * `TLS-Required: No` sets a domain's MTA-STS policy aside (a node HTTPS server serves it).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, freeUdpPort, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { createTestCa } from '../helpers/test-ca.js';
import { sendV2, waitForStatus } from '../helpers/v2-messages.js';

const skip = !dnsmasqAvailable()
  ? 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)'
  : process.getuid?.() !== 0
    ? 'the MTA-STS policy server needs port 443 (RFC 8461 fixes it), which takes root'
    : false;

/** The policy server's address: port 443 on an address of its own, so no other test's server is in the way. */
const POLICY_IP = '127.0.27.80';

interface Recorded {
  type: string;
  data: {
    messageId?: string;
    requireTls?: boolean;
    tlsOptional?: boolean;
    reason?: string;
    enhancedCode?: string;
    diagnostic?: string;
    delivery?: {
      mxHost?: string;
      tlsPolicy?: {
        policy: string;
        mode?: string;
        requireTls?: boolean;
        tlsOptional?: boolean;
        failure?: { type: string };
      };
    };
  };
}

/** The EHLO answer of a plain-text session (before STARTTLS). */
async function plainEhlo(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = '';
    let sent = false;
    socket.on('data', (d) => {
      buffer += d.toString();
      if (!sent && /^220 /m.test(buffer)) {
        sent = true;
        socket.write('EHLO client.test\r\n');
      }
      if (sent && /^250 /m.test(buffer.split('\r\n').slice(1).join('\n'))) {
        socket.end('QUIT\r\n');
        resolve(buffer);
      }
    });
    socket.on('error', reject);
  });
}

describe('REQUIRETLS (RFC 8689): on submission and on delivery', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let dns: DnsServer;
  let policyServer: Server;
  let submissionPort: number;
  let submissionTlsPort: number;
  const sinks: Record<string, SmtpSink> = {};

  const send = (to: string, extra: Record<string, unknown> = {}) =>
    sendV2(t.url, tenant.apiKey, {
      from: 'app@sender.test',
      to: [to],
      subject: 'RequireTLS',
      text: `Hello ${to}`,
      ...extra,
    });
  const waitFor = async (id: string, status: string): Promise<Recorded[]> => {
    await waitForStatus(t.url, tenant.apiKey, id, status);
    return (await t.app.eventStore.readStream(`message-${id}`)) as unknown as Recorded[];
  };
  const last = (events: Recorded[], type: string) => events.filter((e) => e.type === type).at(-1)!;

  before(async () => {
    const ca = await createTestCa();
    const caFile = ca.file;
    const mtaPort = await freePort();
    const dnsPort = await freeUdpPort();
    submissionPort = await freePort();
    submissionTlsPort = await freePort();
    sinks.good = await startSmtpSink('127.0.27.10', mtaPort, {
      certificate: await ca.issue(['mx.good.test']),
      requireTls: true,
    });
    sinks.noExtension = await startSmtpSink('127.0.27.20', mtaPort, { certificate: await ca.issue(['mx.noext.test']) });
    sinks.selfSigned = await startSmtpSink('127.0.27.30', mtaPort, { requireTls: true });
    sinks.stsSelfSigned = await startSmtpSink('127.0.27.40', mtaPort);
    const policyCert = await ca.issue(['mta-sts.sts.test']);
    policyServer = createServer({ key: policyCert.key, cert: policyCert.cert }, (_req, res) => {
      res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end('version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n');
    });
    await new Promise<void>((r) => policyServer.listen(443, POLICY_IP, r));
    dns = await startDnsServer(
      {
        mx: [
          ['good.test', 'mx.good.test', 10],
          ['noext.test', 'mx.noext.test', 10],
          ['selfsigned.test', 'mx.selfsigned.test', 10],
          ['sts.test', 'mx.sts.test', 10],
        ],
        a: [
          ['mx.good.test', '127.0.27.10'],
          ['mx.noext.test', '127.0.27.20'],
          ['mx.selfsigned.test', '127.0.27.30'],
          ['mx.sts.test', '127.0.27.40'],
          ['mta-sts.sts.test', POLICY_IP],
        ],
        txt: [['_mta-sts.sts.test', 'v=STSv1; id=r1']],
        local: ['test'],
      },
      dnsPort,
    );
    t = await startTestApp({
      POSTLOG_MTA_PORT: String(mtaPort),
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      POSTLOG_RETRY_DELAYS: '1',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_ROLES: 'api,mta,projector,smtp',
      POSTLOG_SUBMISSION_PORT: String(submissionPort),
      POSTLOG_SUBMISSION_TLS_PORT: String(submissionTlsPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-requiretls-'),
      POSTLOG_TLS_EXTRA_CA_FILE: caFile,
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => {
    await t?.stop();
    await Promise.all(Object.values(sinks).map((s) => s.close()));
    await dns?.stop();
    policyServer?.closeAllConnections();
    await new Promise((r) => policyServer?.close(r));
  });

  it('submission: offers REQUIRETLS over TLS only, and keeps MAIL FROM’s flag with the message', async () => {
    assert.doesNotMatch(await plainEhlo(submissionPort), /REQUIRETLS/, 'not before TLS');
    const info = await nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: submissionTlsPort,
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user: tenant.smtp.username, pass: tenant.smtp.password },
      })
      .sendMail({
        from: 'app@sender.test',
        to: 'ann@good.test',
        subject: 'secret',
        text: 'only over TLS',
        requireTLSExtensionEnabled: true,
      });
    const id = /queued as (\d+)/.exec(info.response)![1]!;
    const events = await waitFor(id, 'delivered');
    assert.equal(events[0]!.type, 'MessageAccepted');
    assert.equal(events[0]!.data.requireTls, true);
    const policy = last(events, 'MessageDelivered').data.delivery?.tlsPolicy;
    assert.equal(policy?.policy, 'require');
    assert.equal(policy?.requireTls, true);
    // GET /v2/messages/{id} shows it per attempt
    const view = await http(t.url, 'GET', `/v2/messages/${id}`, { headers: { 'X-Server-API-Key': tenant.apiKey } });
    assert.deepEqual(view.body.deliveries.at(-1).tlsPolicy, {
      policy: 'require',
      source: 'default',
      domain: 'good.test',
      requireTls: true,
    });
    assert.equal(sinks.good!.received.length, 1);
    assert.equal(sinks.good!.received[0]!.secure, true);
    assert.equal(sinks.good!.received[0]!.requireTls, true, 'MAIL FROM carried REQUIRETLS onward');
  });

  it('/v2 require_tls: bounced with 5.7.30 when the MX does not offer REQUIRETLS, nothing sent to it', async () => {
    const events = await waitFor(await send('bob@noext.test', { require_tls: true }), 'bounced');
    assert.equal(events[0]!.data.requireTls, true);
    const bounce = last(events, 'MessageBounced');
    assert.equal(bounce.data.enhancedCode, '5.7.30');
    assert.match(bounce.data.diagnostic ?? '', /REQUIRETLS.*does not offer REQUIRETLS/);
    assert.equal(sinks.noExtension!.received.length, 0);
    // the same domain takes mail that does not ask for REQUIRETLS
    await waitFor(await send('bob@noext.test'), 'delivered');
    assert.equal(sinks.noExtension!.received.length, 1);
    assert.equal(sinks.noExtension!.received[0]!.requireTls, undefined);
  });

  it('/v2 require_tls: bounced with 5.7.30 when the certificate does not verify, though REQUIRETLS is offered', async () => {
    const events = await waitFor(await send('cat@selfsigned.test', { require_tls: true }), 'bounced');
    const bounce = last(events, 'MessageBounced');
    assert.equal(bounce.data.enhancedCode, '5.7.30');
    assert.equal(bounce.data.delivery?.tlsPolicy?.failure?.type, 'certificate-not-trusted');
    const view = await http(t.url, 'GET', `/v2/messages/${events[0]!.data.messageId}`, {
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(view.body.deliveries.at(-1).outcome, 'bounced');
    assert.equal(view.body.deliveries.at(-1).tlsPolicy.failure.type, 'certificate-not-trusted');
    assert.equal(sinks.selfSigned!.received.length, 0);
  });

  it('TLS-Required: No delivers where the MTA-STS policy (enforce) would not', async () => {
    const withHeader = await waitFor(await send('eve@sts.test', { headers: { 'TLS-Required': 'No' } }), 'delivered');
    assert.equal(withHeader[0]!.data.tlsOptional, true);
    assert.equal(last(withHeader, 'MessageDelivered').data.delivery?.tlsPolicy?.tlsOptional, true);
    assert.equal(sinks.stsSelfSigned!.received.length, 1);
    assert.match(sinks.stsSelfSigned!.received[0]!.raw.toString(), /^TLS-Required: No\r$/im, 'the header goes along');
    // without the header the policy holds: the self-signed MX gets nothing
    const without = await waitFor(await send('fay@sts.test'), 'deferred');
    assert.match(last(without, 'MessageDeferred').data.reason ?? '', /^MTA-STS \(enforce\)/);
    assert.equal(sinks.stsSelfSigned!.received.length, 1);
  });
});
