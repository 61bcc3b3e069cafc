/**
 * TLS-RPT daily reports (RFC 8460) against real peers on loopback: dnsmasq answers the
 * `_smtp._tls` TXT records, a node HTTPS server with a certificate from the test's CA (trusted
 * through POSTLOG_TLS_EXTRA_CA_FILE) takes the https: reports, and an smtp-server sink (the MX of
 * the mailto: address) receives the mail ones, delivered by Postlog's own MTA. The projector's
 * daily run sends them; what arrives is parsed and checked against RFC 8460's fields.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import PostalMime from 'postal-mime';
import { StsPolicyStore } from '../../infra/mta-sts/index.js';
import { previousUtcDay } from '../../write-side/tls-reports/send-tls-reports.js';
import { createTenant, startTestApp, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, freeUdpPort, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { baseEnv, runCli } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { createTestCa } from '../helpers/test-ca.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)';

const RESULT_TYPES = [
  'starttls-not-supported',
  'certificate-host-mismatch',
  'certificate-expired',
  'certificate-not-trusted',
  'validation-failure',
  'tlsa-invalid',
  'dnssec-invalid',
  'dane-required',
  'sts-policy-fetch-error',
  'sts-policy-invalid',
  'sts-webpki-invalid',
];

interface Posted {
  url: string;
  contentType: string;
  body: Buffer;
}

/** The fields RFC 8460 §4.3/§4.4 require of a report, checked one by one; returns the report. */
function assertRfc8460Report(report: Record<string, unknown>, domain: string, day: string, reportId: string) {
  assert.equal(report['organization-name'], 'Example Sender Inc');
  assert.deepEqual(report['date-range'], {
    'start-datetime': `${day}T00:00:00Z`,
    'end-datetime': `${day}T23:59:59Z`,
  });
  assert.equal(report['contact-info'], 'tlsrpt@sender.test');
  assert.equal(report['report-id'], reportId);
  const policies = report.policies as Record<string, Record<string, unknown> & { 'failure-details'?: unknown[] }>[];
  assert.ok(Array.isArray(policies) && policies.length > 0);
  for (const p of policies) {
    assert.ok(['sts', 'tlsa', 'no-policy-found'].includes(p.policy!['policy-type'] as string));
    assert.equal(p.policy!['policy-domain'], domain);
    assert.equal(typeof p.summary!['total-successful-session-count'], 'number');
    assert.equal(typeof p.summary!['total-failure-session-count'], 'number');
    for (const f of (p['failure-details'] ?? []) as Record<string, unknown>[]) {
      assert.ok(RESULT_TYPES.includes(f['result-type'] as string), `result-type ${f['result-type']}`);
      assert.ok(Number.isInteger(f['failed-session-count']));
    }
  }
  return policies;
}

describe('TLS-RPT: the daily reports go to the rua of each policy domain', { skip }, () => {
  let t: TestApp;
  let dns: DnsServer;
  let sink: SmtpSink;
  let reportServer: Server;
  let reportPort: number;
  let dnsPort: number;
  const posted: Posted[] = [];
  const day = previousUtcDay(new Date(Date.now() - 10 * 60_000));

  before(async () => {
    const ca = await createTestCa();
    const caFile = ca.file;
    const cert = await ca.issue(['reports.https.test']);
    reportServer = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posted.push({
          url: req.url ?? '',
          contentType: req.headers['content-type'] ?? '',
          body: Buffer.concat(chunks),
        });
        res.writeHead(req.url === '/fail' ? 503 : 201).end();
      });
    });
    reportPort = await freePort();
    await new Promise<void>((r) => reportServer.listen(reportPort, '127.0.0.1', r));
    const mtaPort = await freePort();
    dnsPort = await freeUdpPort();
    sink = await startSmtpSink('127.0.26.5', mtaPort);
    dns = await startDnsServer(
      {
        mx: [['reports.test', 'mx.reports.test', 10]],
        a: [
          ['mx.reports.test', '127.0.26.5'],
          ['reports.https.test', '127.0.0.1'],
        ],
        txt: [
          ['_smtp._tls.https.test', `v=TLSRPTv1; rua=https://reports.https.test:${reportPort}/tlsrpt`],
          ['_smtp._tls.broken.test', `v=TLSRPTv1; rua=https://reports.https.test:${reportPort}/fail`],
          ['_smtp._tls.mail.test', 'v=TLSRPTv1;rua=mailto:tls%2Breports@reports.test'],
          // two records: none applies (RFC 8460 §3)
          ['_smtp._tls.twice.test', 'v=TLSRPTv1; rua=mailto:a@reports.test'],
          ['_smtp._tls.twice.test', 'v=TLSRPTv1; rua=mailto:b@reports.test'],
        ],
        local: ['test'],
        // its resolver has trouble: no answer is not "no reports wanted"
        servfail: ['_smtp._tls.servfail.test'],
      },
      dnsPort,
    );
    t = await startTestApp({
      POSTLOG_MTA_PORT: String(mtaPort),
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      POSTLOG_RETRY_DELAYS: '1',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_ROLES: 'api,mta,projector',
      POSTLOG_TLS_EXTRA_CA_FILE: caFile,
      POSTLOG_TLSRPT_FROM: 'tlsrpt@sender.test',
      POSTLOG_TLSRPT_ORGANIZATION: 'Example Sender Inc',
      POSTLOG_TLSRPT_CHECK_SECONDS: '1',
    });
    await createTenant(t.app, { domain: 'sender.test' });
    // the MTA keeps the policy it counted under that id (its text goes into the report); saved before the counts,
    // which the app's run may take at once
    await new StsPolicyStore(t.db.pool).save({
      domain: 'https.test',
      id: '20261205T1',
      text: 'version: STSv1\r\nmode: enforce\r\nmx: mx.https.test\r\nmax_age: 604800\r\n',
      fetchedAt: new Date(),
      expiresAt: new Date(Date.now() + 604_800_000),
    });
    // yesterday's counts, as the TLS-RPT projection writes them (the attempts were yesterday)
    await t.db.pool.query(
      `INSERT INTO tls_report_counts (policy_domain, day, policy_type, policy_id, mode, successes, failures,
                                      failure_types)
       VALUES ('https.test', $1, 'sts', '20261205T1', 'enforce', 40, 2, '{"certificate-expired": 2}'),
              ('https.test', $1, 'no-policy-found', '', '', 3, 0, '{}'),
              ('broken.test', $1, 'no-policy-found', '', '', 1, 0, '{}'),
              ('mail.test', $1, 'no-policy-found', '', '', 7, 1, '{"starttls-not-supported": 1}'),
              ('twice.test', $1, 'no-policy-found', '', '', 1, 0, '{}'),
              ('none.test', $1, 'no-policy-found', '', '', 5, 0, '{}'),
              ('servfail.test', $1, 'no-policy-found', '', '', 2, 0, '{}')`,
      [day],
    );
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
    await dns?.stop();
    reportServer?.closeAllConnections();
    await new Promise((r) => reportServer?.close(r));
  });

  it('POSTs the gzipped JSON report to an https: rua', async () => {
    const post = await eventually(
      async () => posted.find((p) => p.url === '/tlsrpt'),
      () => 'no report POSTed',
    );
    assert.equal(post.url, '/tlsrpt');
    assert.equal(post.contentType, 'application/tlsrpt+gzip');
    const report = JSON.parse(gunzipSync(post.body).toString('utf8')) as Record<string, unknown>;
    const policies = assertRfc8460Report(report, 'https.test', day, `${day}T00:00:00Z_https.test@postlog.test`);
    assert.deepEqual(
      policies.map((p) => [p.policy!['policy-type'], p.summary, p['failure-details']]),
      [
        ['no-policy-found', { 'total-successful-session-count': 3, 'total-failure-session-count': 0 }, []],
        [
          'sts',
          { 'total-successful-session-count': 40, 'total-failure-session-count': 2 },
          [{ 'result-type': 'certificate-expired', 'failed-session-count': 2 }],
        ],
      ],
    );
    assert.deepEqual(policies[1]!.policy, {
      'policy-type': 'sts',
      'policy-string': ['version: STSv1', 'mode: enforce', 'mx: mx.https.test', 'max_age: 604800'],
      'mx-host': ['mx.https.test'],
      'policy-domain': 'https.test',
    });
    assert.deepEqual(policies[0]!.policy, { 'policy-type': 'no-policy-found', 'policy-domain': 'https.test' });
  });

  it('mails the report to a mailto: rua through Postlog itself (RFC 8460 §5.3)', async () => {
    const mail = await eventually(
      async () => sink.received[0],
      () => 'no report mail at the sink',
    );
    assert.match(mail.from, /@psrp\.sender\.test$/, "the server's return path, as for any of its mail");
    assert.deepEqual(mail.to, ['tls+reports@reports.test'], 'the rua address, percent-decoded');
    const parsed = await PostalMime.parse(mail.raw);
    const header = (name: string) => parsed.headers.find((h) => h.key === name)?.value;
    const reportId = `${day}T00:00:00Z_mail.test@postlog.test`;
    assert.equal(parsed.from?.address, 'tlsrpt@sender.test');
    assert.equal(header('tls-report-domain'), 'mail.test');
    assert.equal(header('tls-report-submitter'), 'postlog.test');
    assert.equal(parsed.subject, `Report Domain: mail.test Submitter: postlog.test Report-ID: <${reportId}>`);
    assert.match(header('content-type') ?? '', /^multipart\/report;.*report-type="?tlsrpt"?/);
    assert.ok(header('dkim-signature'), 'signed with the sending domain’s key, like any message');
    const gz = parsed.attachments.find((a) => a.mimeType === 'application/tlsrpt+gzip');
    assert.ok(gz, 'an application/tlsrpt+gzip part');
    const begin = Date.parse(`${day}T00:00:00Z`) / 1000;
    assert.equal(gz.filename, `postlog.test!mail.test!${begin}!${begin + 86_399}.json.gz`);
    const report = JSON.parse(gunzipSync(Buffer.from(gz.content as ArrayBuffer)).toString('utf8'));
    const [policy] = assertRfc8460Report(report, 'mail.test', day, reportId);
    assert.deepEqual(policy!['failure-details'], [
      { 'result-type': 'starttls-not-supported', 'failed-session-count': 1 },
    ]);
  });

  it('records each report: none is sent twice (the CLI in another process); a failed one is tried three times', async () => {
    const sent = async () =>
      (
        await t.db.pool.query(
          'SELECT policy_domain, rua, status, attempts FROM tls_reports_sent WHERE day = $1 ORDER BY policy_domain',
          [day],
        )
      ).rows;
    // its third try settled: the row says 'sending' while a try is under way (attempts counts it from its start)
    await eventually(
      async () => ((await sent()).find((r) => r.attempts === 3 && r.status !== 'sending') ? true : undefined),
      () => 'a failing report tried three times',
    );
    assert.deepEqual(await sent(), [
      {
        policy_domain: 'broken.test',
        rua: `https://reports.https.test:${reportPort}/fail`,
        status: 'failed',
        attempts: 3,
      },
      {
        policy_domain: 'https.test',
        rua: `https://reports.https.test:${reportPort}/tlsrpt`,
        status: 'sent',
        attempts: 1,
      },
      { policy_domain: 'mail.test', rua: 'mailto:tls%2Breports@reports.test', status: 'sent', attempts: 1 },
    ]);
    // `postlog tls-reports send --day`, a second process of the same installation, sends nothing again
    const env = await baseEnv(t.app.config.dataDir, {
      POSTLOG_DATABASE_URL: t.db.url,
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dnsPort}`,
      POSTLOG_HOSTNAME: 'postlog.test',
      POSTLOG_TLS_EXTRA_CA_FILE: t.app.config.tlsExtraCaFile!,
      POSTLOG_TLSRPT_FROM: 'tlsrpt@sender.test',
      POSTLOG_LOG_LEVEL: 'warn',
    });
    // servfail.test's resolver gives no answer: the app's run looks at the day again every second, and the
    // CLI may meet it at work (TLS_REPORTS_BUSY, as it tells the user: try again)
    const cli = async (args: string[]) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await runCli(args, env);
        if (!r.stderr.includes('TLS_REPORTS_BUSY') || Date.now() > deadline) return r;
      }
    };
    const again = await cli(['tls-reports', 'send', '--day', day, '--json']);
    assert.equal(again.code, 1, 'a domain without an answer: not every report went');
    assert.match(again.stderr, /TLS_REPORTS_FAILED.*servfail\.test \(no answer\)/);
    const outcomes = JSON.parse(again.stdout) as { policyDomain: string; status: string; detail: string }[];
    assert.deepEqual(
      outcomes.map((o) => [o.policyDomain, o.status]),
      [
        ['broken.test', 'done-before'],
        ['https.test', 'done-before'],
        ['mail.test', 'done-before'],
        ['servfail.test', 'failed'],
      ],
    );
    assert.match(outcomes[3]!.detail, /the look-up of _smtp\._tls\.servfail\.test failed \(ESERVFAIL\)/);
    const dryRun = await cli(['tls-reports', 'send', '--day', day, '--dry-run']);
    assert.equal(dryRun.code, 0, dryRun.stderr);
    const dry = JSON.parse(dryRun.stdout) as { policyDomain: string; rua: string[]; report: { 'report-id': string } }[];
    assert.equal(dry[1]!.report['report-id'], `${day}T00:00:00Z_https.test@postlog.test`);
    assert.deepEqual(
      dry.map((r) => [r.policyDomain, r.rua]),
      [
        ['broken.test', [`https://reports.https.test:${reportPort}/fail`]],
        ['https.test', [`https://reports.https.test:${reportPort}/tlsrpt`]],
        ['mail.test', ['mailto:tls%2Breports@reports.test']],
      ],
    );
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(posted.filter((p) => p.url === '/tlsrpt').length, 1, 'one POST');
    assert.equal(posted.filter((p) => p.url === '/fail').length, 3, 'a failing rua: three tries, then no more');
    assert.equal(sink.received.length, 1, 'one mail');
  });
});
