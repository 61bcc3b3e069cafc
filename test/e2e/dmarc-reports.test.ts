import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { zipOf } from '../helpers/zip-archive.js';
import { eventually } from '../helpers/eventually.js';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';

/** Hands a raw message to the inbound MX as a reporter's MTA would. */
async function deliverInbound(port: number, from: string, to: string, raw: string) {
  const c = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, logger: false, name: 'mx.reporter.test' });
  await new Promise<void>((res, rej) => {
    c.once('error', rej);
    c.connect(() => res());
  });
  try {
    return await new Promise<{ code: number; response: string }>((resolve) =>
      c.send({ from, to: [to] }, raw, (err, info) => {
        const e = err as (Error & { responseCode?: number; response?: string }) | null;
        resolve(
          e ? { code: e.responseCode ?? 0, response: e.response ?? e.message } : { code: 250, response: info.response },
        );
      }),
    );
  } finally {
    c.quit();
  }
}

const base64Lines = (b: Buffer) => b.toString('base64').replace(/.{76}/g, '$&\r\n');

/** A report mail: the archive alone as the body (Google's shape) or attached to a text part (Microsoft's). */
function reportMail(o: {
  from: string;
  to: string;
  subject: string;
  filename: string;
  type: string;
  bytes: Buffer;
  multipart: boolean;
}): string {
  const head = [`From: ${o.from}`, `To: ${o.to}`, `Subject: ${o.subject}`, 'MIME-Version: 1.0'];
  const attachment = [
    `Content-Type: ${o.type}; name="${o.filename}"`,
    `Content-Disposition: attachment; filename="${o.filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(o.bytes),
  ];
  if (!o.multipart) return [...head, ...attachment, ''].join('\r\n');
  return [
    ...head,
    'Content-Type: multipart/mixed; boundary="report-boundary"',
    '',
    '--report-boundary',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `This is a DMARC aggregate report for ${o.subject}.`,
    '--report-boundary',
    ...attachment,
    '--report-boundary--',
    '',
  ].join('\r\n');
}

const DAY = 86_400;
// yesterday (UTC), so the queries' default range (the last 30 days) holds the reports
const begin = (Math.floor(Date.now() / 1000 / DAY) - 1) * DAY;
const end = begin + DAY - 1;

const record = (ip: string, count: number, dkim: string, spf: string, extra = '') => `
  <record>
    <row>
      <source_ip>${ip}</source_ip>
      <count>${count}</count>
      <policy_evaluated><disposition>none</disposition><dkim>${dkim}</dkim><spf>${spf}</spf></policy_evaluated>
    </row>
    <identifiers>${extra}<header_from>acme.test</header_from></identifiers>
    <auth_results>
      <dkim><domain>acme.test</domain><selector>postlog</selector><result>${dkim}</result></dkim>
      <spf><domain>${spf === 'pass' ? 'acme.test' : 'elsewhere.example'}</domain><scope>mfrom</scope><result>${spf}</result></spf>
    </auth_results>
  </record>`;

/** Google's shape: no namespace, a numeric report id, np in the policy. */
const googleXml = `<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>17282348916473829401</report_id>
    <date_range><begin>${begin}</begin><end>${end}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>acme.test</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct><np>none</np>
  </policy_published>
  ${record('192.0.2.10', 80, 'pass', 'pass')}
  ${record('192.0.2.11', 20, 'pass', 'fail')}
  ${record('203.0.113.5', 10, 'fail', 'fail')}
</feedback>
`;

/** Microsoft's shape: XML Schema namespaces, a version, envelope_to and envelope_from, fo in the policy. */
const microsoftXml = `<?xml version="1.0"?>
<feedback xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <version>1.0</version>
  <report_metadata>
    <org_name>Enterprise Outlook</org_name>
    <email>dmarcreport@microsoft.com</email>
    <report_id>5d3c8e9a1f0b4c7e9a2d6b1e0f4a8c3d</report_id>
    <date_range><begin>${begin}</begin><end>${end + 1}</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>acme.test</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct><fo>0</fo>
  </policy_published>
  ${record('192.0.2.10', 40, 'pass', 'pass', '<envelope_to>outlook.com</envelope_to><envelope_from>psrp.acme.test</envelope_from>')}
  ${record('198.51.100.7', 10, 'fail', 'fail', '<envelope_to>hotmail.com</envelope_to><envelope_from>spoof.example</envelope_from>')}
</feedback>
`;

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE feedback [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>
`;

describe('DMARC aggregate reports in: through the inbound MX by SMTP, read over GraphQL', () => {
  let t: TestApp;
  let acme: Tenant;
  let other: Tenant;
  let inboundPort: number;
  let logs: CapturedLogs;
  const gql = async (headers: Record<string, string>, query: string) =>
    http(t.url, 'POST', '/graphql', { body: { query }, headers });
  const eventsOf = async (type: string) =>
    (
      await t.db.pool.query<{ data: Record<string, unknown> }>(
        'SELECT data FROM events WHERE type = $1 ORDER BY position',
        [type],
      )
    ).rows.map((r) => r.data);

  before(async () => {
    inboundPort = await freePort();
    logs = captureLogs('info');
    t = await startTestApp(
      {
        POSTLOG_ROLES: 'api,projector,inbound,graphql',
        POSTLOG_INBOUND_PORT: String(inboundPort),
        POSTLOG_DATA_DIR: tempDataDir('postlog-dmarc-'),
      },
      '',
      logs.logger,
    );
    acme = await createTenant(t.app, { domain: 'acme.test' });
    other = await createTenant(t.app, { domain: 'other.test' });
  });

  after(async () => {
    await t?.stop();
  });

  const google = () =>
    reportMail({
      from: 'noreply-dmarc-support@google.com',
      to: 'dmarc-reports@acme.test',
      subject: 'Report domain: acme.test Submitter: google.com Report-ID: 17282348916473829401',
      filename: `google.com!acme.test!${begin}!${end}.xml.gz`,
      type: 'application/gzip',
      bytes: gzipSync(Buffer.from(googleXml)),
      multipart: false,
    });

  it('records a Google-like gzip report and a Microsoft-like zip report; the same report twice once', async () => {
    const first = await deliverInbound(
      inboundPort,
      'noreply-dmarc-support@google.com',
      'dmarc-reports@acme.test',
      google(),
    );
    assert.equal(first.code, 250, first.response);
    assert.match(first.response, /\(dmarc-report\)/);
    const again = await deliverInbound(
      inboundPort,
      'noreply-dmarc-support@google.com',
      'dmarc-reports@acme.test',
      google(),
    );
    assert.equal(again.code, 250, again.response);
    assert.match(again.response, /dmarc-report-repeated/);
    // the reporter may mail the host name's address too (an rua outside the domain)
    const microsoft = reportMail({
      from: 'dmarcreport@microsoft.com',
      to: 'DMARC-Reports@postlog.test',
      subject: 'Report Domain: acme.test Submitter: enterprise.protection.outlook.com Report-ID: <5d3c8e9a>',
      filename: `enterprise.protection.outlook.com!acme.test!${begin}!${end + 1}.zip`,
      type: 'application/zip',
      bytes: zipOf(`enterprise.protection.outlook.com!acme.test!${begin}!${end + 1}.xml`, Buffer.from(microsoftXml)),
      multipart: true,
    });
    const ms = await deliverInbound(inboundPort, 'dmarcreport@microsoft.com', 'DMARC-Reports@postlog.test', microsoft);
    assert.equal(ms.code, 250, ms.response);
    const received = await eventsOf('DmarcReportReceived');
    assert.deepEqual(
      received.map((r) => [r.reporterOrg, r.domain, r.serverId, (r.records as unknown[]).length]),
      [
        ['google.com', 'acme.test', acme.server.id, 3],
        ['Enterprise Outlook', 'acme.test', acme.server.id, 2],
      ],
    );
    const g = received[0]!;
    assert.equal(g.begin, new Date(begin * 1000).toISOString());
    assert.deepEqual(g.policy, { domain: 'acme.test', adkim: 'r', aspf: 'r', p: 'none', sp: 'none', pct: 100 });
    assert.deepEqual((g.records as Record<string, unknown>[])[1], {
      sourceIp: '192.0.2.11',
      count: 20,
      disposition: 'none',
      dkim: 'pass',
      spf: 'fail',
      headerFrom: 'acme.test',
      dkimResults: [{ domain: 'acme.test', selectorOrScope: 'postlog', result: 'pass' }],
      spfResults: [{ domain: 'elsewhere.example', selectorOrScope: 'mfrom', result: 'fail' }],
    });
  });

  it('answers the aligned pass rates, the sources and the failing IPs over GraphQL', async () => {
    const query = `{
      dmarcSummary(domain: "acme.test") {
        domain reports messages dkimAligned spfAligned dmarcPass dkimAlignedRate spfAlignedRate dmarcPassRate refused
        reporters { org reports messages dmarcPassRate }
      }
      failing: dmarcSources(domain: "ACME.test", failing: true) { ip reporter messages dmarcPass dmarcPassRate }
      all: dmarcSources(domain: "acme.test", limit: 2) { ip reporter messages }
    }`;
    const res = await eventually(
      async () => {
        const r = await gql({ 'X-Server-API-Key': acme.apiKey }, query);
        return r.body.data?.dmarcSummary?.reports === 2 ? r : undefined;
      },
      () => 'the projection did not catch up with the two reports',
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    // 160 messages: DKIM aligned 80 + 20 + 40, SPF aligned 80 + 40, DMARC pass (either) 140
    assert.deepEqual(res.body.data.dmarcSummary, {
      domain: 'acme.test',
      reports: 2,
      messages: 160,
      dkimAligned: 140,
      spfAligned: 120,
      dmarcPass: 140,
      dkimAlignedRate: 0.875,
      spfAlignedRate: 0.75,
      dmarcPassRate: 0.875,
      refused: 0,
      reporters: [
        { org: 'google.com', reports: 1, messages: 110, dmarcPassRate: 100 / 110 },
        { org: 'Enterprise Outlook', reports: 1, messages: 50, dmarcPassRate: 0.8 },
      ],
    });
    assert.deepEqual(res.body.data.failing, [
      { ip: '198.51.100.7', reporter: 'Enterprise Outlook', messages: 10, dmarcPass: 0, dmarcPassRate: 0 },
      { ip: '203.0.113.5', reporter: 'google.com', messages: 10, dmarcPass: 0, dmarcPassRate: 0 },
    ]);
    assert.deepEqual(res.body.data.all, [
      { ip: '192.0.2.10', reporter: 'google.com', messages: 80 },
      { ip: '192.0.2.10', reporter: 'Enterprise Outlook', messages: 40 },
    ]);
    // another tenant's server sees none of acme.test's reports; a range before them holds none
    const theirs = await gql(
      { 'X-Server-API-Key': other.apiKey },
      '{ dmarcSummary(domain: "acme.test") { reports messages } }',
    );
    assert.deepEqual(theirs.body.data.dmarcSummary, { reports: 0, messages: 0 });
    const earlier = await gql(
      { 'X-Server-API-Key': acme.apiKey },
      `{ dmarcSummary(domain: "acme.test", from: "2020-01-01T00:00:00Z", to: "2020-02-01T00:00:00Z") { reports dmarcPassRate } }`,
    );
    assert.deepEqual(earlier.body.data.dmarcSummary, { reports: 0, dmarcPassRate: null });
  });

  it('sums them up at GET /v2/domains/{id}/dmarc-reports for whoever may see the domain', async () => {
    const domains = await http(t.url, 'GET', `/v2/servers/${acme.server.id}/domains`, {
      headers: { authorization: `Bearer ${acme.adminToken}` },
    });
    const id = domains.body.domains[0].id as string;
    const res = await http(t.url, 'GET', `/v2/domains/${id}/dmarc-reports`, {
      headers: { authorization: `Bearer ${acme.adminToken}` },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      [
        res.body.domain,
        res.body.reports,
        res.body.messages,
        res.body.dkimAligned,
        res.body.spfAligned,
        res.body.dmarcPass,
      ],
      ['acme.test', 2, 160, 140, 120, 140],
    );
    assert.deepEqual(
      res.body.failingSources.map((s: { ip: string }) => s.ip),
      ['198.51.100.7', '203.0.113.5'],
    );
    const stranger = await http(t.url, 'GET', `/v2/domains/${id}/dmarc-reports`, {
      headers: { authorization: `Bearer ${other.adminToken}` },
    });
    assert.equal(stranger.status, 404, JSON.stringify(stranger.body));
  });

  it('refuses a billion-laughs XML and a zip bomb: answered 250, kept as refused reports, logged', async () => {
    const laughs = reportMail({
      from: 'reports@evil.example',
      to: 'dmarc-reports@acme.test',
      subject: 'Report domain: acme.test laughs',
      filename: 'evil.example!acme.test!1!2.xml',
      type: 'text/xml',
      bytes: Buffer.from(billionLaughs),
      multipart: true,
    });
    const a = await deliverInbound(inboundPort, 'reports@evil.example', 'dmarc-reports@acme.test', laughs);
    assert.equal(a.code, 250, a.response);
    assert.match(a.response, /dmarc-report-refused/);
    // 64 MiB of XML that deflates to about 64 KiB: inflating stops at 16 MiB
    const bomb = reportMail({
      from: 'reports@evil.example',
      to: 'dmarc-reports@acme.test',
      subject: 'Report domain: acme.test bomb',
      filename: 'evil.example!acme.test!1!2.zip',
      type: 'application/zip',
      bytes: zipOf('bomb.xml', Buffer.alloc(64 * 1024 * 1024, 'a')),
      multipart: true,
    });
    const b = await deliverInbound(inboundPort, 'reports@evil.example', 'dmarc-reports@acme.test', bomb);
    assert.equal(b.code, 250, b.response);
    assert.match(b.response, /dmarc-report-refused/);
    const refused = await eventsOf('DmarcReportRefused');
    assert.deepEqual(
      refused.map((r) => [r.reason, r.subject]),
      [
        ['entities-refused', 'Report domain: acme.test laughs'],
        ['too-large', 'Report domain: acme.test bomb'],
      ],
    );
    // the mails themselves are kept
    for (const r of refused) {
      const kept = await t.db.pool.query('SELECT 1 FROM contents WHERE sha256 = $1', [r.contentHash]);
      assert.equal(kept.rowCount, 1, `mail ${String(r.contentHash)} kept`);
    }
    const lines = await logs.find('DMARC report refused: kept as a refused report');
    assert.deepEqual(
      lines.map((l) => l.reason),
      ['entities-refused', 'too-large'],
    );
    // still serving, and nothing of the refused mails reached the reports
    const res = await gql(
      { 'X-Server-API-Key': acme.apiKey },
      '{ dmarcSummary(domain: "acme.test") { reports messages } }',
    );
    assert.deepEqual(res.body.data.dmarcSummary, { reports: 2, messages: 160 });
  });

  it('refuses mail to the report address of a domain nobody sends from at RCPT', async () => {
    const res = await deliverInbound(inboundPort, 'x@reporter.test', 'dmarc-reports@unknown.test', google());
    assert.equal(res.code, 550, res.response);
  });
});
