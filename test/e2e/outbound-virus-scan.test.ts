/**
 * The outbound virus scan (POSTLOG_OUTBOUND_VIRUS_SCAN, on when clamd is configured) through the
 * real entry points: POST /v2/messages, SMTP submission, Postal's /api/v1/send/message and
 * send/raw, and a server's test message, scanned by a real clamd. EICAR is refused with the
 * signature named and nothing accepted; a clean message is accepted and recorded Clean. Then clamd
 * down (a closed port) and hung (a server that takes the connection and never answers): fail-open
 * accepts the message recorded NotChecked, tempfail answers 451 / 503; each failure is counted in
 * GET /metrics and logged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { clamdSkipReason, EICAR, startClamd } from '../helpers/clamd.js';
import type { DaemonProcess } from '../helpers/daemon-process.js';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js';

const key = (apiKey: string) => ({ 'x-server-api-key': apiKey });
const virusBody = { subject: 'Invoice', text: `Please find it below.\n\n${EICAR}\n` };
const plainBody = { subject: 'Lunch', text: 'Hi Alice,\n\nlunch tomorrow at noon?\n\nBob\n' };

async function send(t: TestApp, tenant: Tenant, body: Record<string, unknown>) {
  return http(t.url, 'POST', '/v2/messages', {
    headers: key(tenant.apiKey),
    body: { from: 'Bob <bob@sender.test>', to: ['alice@example.com'], ...body },
  });
}

async function submit(port: number, tenant: Tenant, body: { subject: string; text: string }) {
  return nodemailer
    .createTransport({
      host: '127.0.0.1',
      port,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: tenant.smtp.username, pass: tenant.smtp.password },
    })
    .sendMail({ from: 'bob@sender.test', to: 'carol@example.com', ...body });
}

const eventCount = async (t: TestApp) =>
  (await t.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n as number;

async function acceptedData(t: TestApp, id: string): Promise<Record<string, any>> {
  const [accepted] = await t.app.eventStore.readStream(`message-${id}`);
  assert.equal(accepted?.type, 'MessageAccepted');
  return accepted!.data as Record<string, any>;
}

/** An app with the API and SMTP submission, clamd at `clamdPort`, and the env given. */
async function appWith(clamdPort: number, env: Record<string, string> = {}, logs?: CapturedLogs) {
  const submissionPort = await freePort();
  const t = await startTestApp(
    {
      POSTLOG_ROLES: 'api,smtp',
      POSTLOG_DATA_DIR: tempDataDir('postlog-virusscan-'),
      POSTLOG_SUBMISSION_PORT: String(submissionPort),
      POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
      POSTLOG_CLAMD_HOST: '127.0.0.1',
      POSTLOG_CLAMD_PORT: String(clamdPort),
      ...env,
    },
    '',
    logs?.logger,
  );
  const tenant = await createTenant(t.app, { domain: 'sender.test' });
  return { t, tenant, submissionPort };
}

describe('outbound virus scan with a real clamd', { skip: clamdSkipReason() }, () => {
  let clamd: DaemonProcess;
  let t: TestApp;
  let tenant: Tenant;
  let submissionPort: number;
  before(async () => {
    clamd = await startClamd();
    ({ t, tenant, submissionPort } = await appWith(clamd.port));
  });
  after(async () => {
    await t?.stop();
    await clamd?.stop();
  });

  it('POST /v2/messages with EICAR: 422 VIRUS_FOUND naming the signature; nothing accepted', async () => {
    const before = await eventCount(t);
    const res = await send(t, tenant, virusBody);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'VIRUS_FOUND');
    assert.match(res.body.message, /Eicar-Test-Signature/);
    assert.deepEqual(res.body.fields, [{ path: 'virus', message: 'Eicar-Test-Signature.UNOFFICIAL' }]);
    // a batch where one recipient's copy carries it: the whole request is refused
    const batch = await http(t.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: {
        from: 'bob@sender.test',
        to: [0, 1, 2].map((i) => ({ address: `r${i}@example.com`, variables: { body: i === 1 ? EICAR : 'hello' } })),
        subject: 'Hi',
        text: '{{body}}\n',
      },
    });
    assert.equal(batch.status, 422, JSON.stringify(batch.body));
    assert.equal(await eventCount(t), before, 'nothing was appended');
  });

  it('a clean message is scanned, accepted and recorded Clean', async () => {
    const res = await send(t, tenant, plainBody);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const data = await acceptedData(t, res.body.messages[0].id);
    assert.deepEqual(data.virusCheck, { virusStatus: 'Clean' });
  });

  it('SMTP submission with EICAR: 554 5.7.1 naming the signature; nothing accepted', async () => {
    const before = await eventCount(t);
    await assert.rejects(
      submit(submissionPort, tenant, virusBody),
      (e: { responseCode?: number; response?: string }) =>
        e.responseCode === 554 && /^554 5\.7\.1 .*Eicar-Test-Signature\.UNOFFICIAL/.test(e.response ?? ''),
    );
    assert.equal(await eventCount(t), before);
    const clean = await submit(submissionPort, tenant, plainBody);
    assert.match(clean.response, /queued as \d+/);
  });

  it("Postal's send/message and send/raw: an error in Postal's envelope, code VirusFound", async () => {
    const before = await eventCount(t);
    const message = await http(t.url, 'POST', '/api/v1/send/message', {
      headers: { 'X-Server-API-Key': tenant.apiKey },
      body: { to: ['alice@example.com'], from: 'bob@sender.test', subject: 'x', plain_body: EICAR },
    });
    assert.equal(message.status, 200);
    assert.equal(message.body.status, 'error');
    assert.equal(message.body.data.code, 'VirusFound');
    assert.equal(message.body.data.virus, 'Eicar-Test-Signature.UNOFFICIAL');
    const raw = `From: bob@sender.test\r\nTo: alice@example.com\r\nSubject: raw\r\n\r\n${EICAR}\r\n`;
    const sent = await http(t.url, 'POST', '/api/v1/send/raw', {
      headers: { 'X-Server-API-Key': tenant.apiKey },
      body: { mail_from: 'bob@sender.test', rcpt_to: ['alice@example.com'], data: Buffer.from(raw).toString('base64') },
    });
    assert.equal(sent.body.status, 'error', JSON.stringify(sent.body));
    assert.equal(sent.body.data.code, 'VirusFound');
    assert.equal(await eventCount(t), before);
  });

  it("a template's test-send with EICAR in its model: 422 VIRUS_FOUND; a server's test message is Clean", async () => {
    const admin = { authorization: `Bearer ${tenant.adminToken}` };
    const created = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/templates`, {
      headers: key(tenant.apiKey),
      body: { alias: 'virus-test', subject: 'Hi', html: '<p>{{body}}</p>' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const res = await http(t.url, 'POST', `/v2/templates/${created.body.id}/test-send`, {
      headers: admin,
      body: { to: 'alice@example.com', model: { body: EICAR } },
    });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.code, 'VIRUS_FOUND');
    assert.deepEqual(res.body.fields, [{ path: 'virus', message: 'Eicar-Test-Signature.UNOFFICIAL' }]);
    const test = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/test-message`, {
      headers: admin,
      body: { to: 'alice@example.com' },
    });
    assert.equal(test.status, 202, JSON.stringify(test.body));
    assert.deepEqual((await acceptedData(t, test.body.id)).virusCheck, { virusStatus: 'Clean' });
  });

  it('POSTLOG_OUTBOUND_VIRUS_SCAN=off: outgoing mail is not scanned', async () => {
    const off = await appWith(clamd.port, { POSTLOG_OUTBOUND_VIRUS_SCAN: 'off' });
    try {
      const res = await send(off.t, off.tenant, virusBody);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal((await acceptedData(off.t, res.body.messages[0].id)).virusCheck, undefined);
    } finally {
      await off.t.stop();
    }
  });
});

describe('outbound virus scan with clamd down or hung: no mail lost', () => {
  let closedPort: number;
  let silent: SilentServer;
  const apps: TestApp[] = [];
  before(async () => {
    [closedPort, silent] = await Promise.all([freePort(), startSilentServer()]);
  });
  after(async () => {
    for (const a of apps) await a.stop();
    await silent?.stop();
  });

  const scenarios = [
    {
      scanner: 'down (connection refused)',
      port: () => closedPort,
      reason: 'unreachable',
      code: 'SCANNER_UNREACHABLE',
    },
    { scanner: 'hung (never answers)', port: () => silent.port, reason: 'timeout', code: 'SCANNER_TIMEOUT' },
  ];
  for (const s of scenarios) {
    it(`clamd ${s.scanner}, fail-open (the default): accepted, recorded NotChecked, counted and logged`, async () => {
      const logs = captureLogs('warn');
      const { t, tenant, submissionPort } = await appWith(s.port(), { POSTLOG_SCAN_TIMEOUT_SECONDS: '0.5' }, logs);
      apps.push(t);
      const started = Date.now();
      const res = await send(t, tenant, virusBody);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.ok(Date.now() - started < 5000, 'the scan ended at its timeout');
      const data = await acceptedData(t, res.body.messages[0].id);
      assert.deepEqual(data.virusCheck, { virusStatus: 'NotChecked', failures: [`clamav: ${s.code}`] });
      const smtp = await submit(submissionPort, tenant, plainBody);
      const id = /queued as (\d+)/.exec(smtp.response)![1]!;
      assert.equal((await acceptedData(t, id)).virusCheck.virusStatus, 'NotChecked');
      const metrics = await http(t.url, 'GET', '/metrics');
      assert.match(
        metrics.body,
        new RegExp(`postlog_scanner_failures_total\\{scanner="clamav",reason="${s.reason}"\\} 2`),
      );
      const warnings = await logs.find('scanner gave no verdict');
      assert.equal(warnings.length, 2, JSON.stringify(logs.lines));
      assert.deepEqual([warnings[0]!.scanner, warnings[0]!.code], ['clamav', s.code]);
    });

    it(`clamd ${s.scanner}, tempfail: HTTP 503 and SMTP 451 4.7.1, nothing accepted, counted and logged`, async () => {
      const logs = captureLogs('warn');
      const { t, tenant, submissionPort } = await appWith(
        s.port(),
        { POSTLOG_SCAN_TIMEOUT_SECONDS: '0.5', POSTLOG_SCAN_FAILURE: 'tempfail' },
        logs,
      );
      apps.push(t);
      const before = await eventCount(t);
      const res = await send(t, tenant, plainBody);
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.body.code, 'VIRUS_SCAN_UNAVAILABLE');
      await assert.rejects(
        submit(submissionPort, tenant, plainBody),
        (e: { responseCode?: number; response?: string }) =>
          e.responseCode === 451 && /^451 4\.7\.1 The virus scan could not be made/.test(e.response ?? ''),
      );
      assert.equal(await eventCount(t), before, 'nothing accepted: the clients keep the mail and retry');
      const metrics = await http(t.url, 'GET', '/metrics');
      assert.match(
        metrics.body,
        new RegExp(`postlog_scanner_failures_total\\{scanner="clamav",reason="${s.reason}"\\} 2`),
      );
      assert.equal((await logs.find('scanner gave no verdict')).length, 2);
      const refused = await logs.find('SMTP message not accepted');
      assert.equal(refused[0]?.code, 'VIRUS_SCAN_UNAVAILABLE', JSON.stringify(logs.lines));
    });
  }
});
