/**
 * The outbound spam check (a server's outboundSpamThreshold, Postal's outbound spam threshold)
 * through the real entry points: POST /v2/messages and SMTP submission, scanned by a real spamd
 * and a real rspamd. GTUBE is accepted and held as spam with the score and symbols in the reason;
 * a plain message is delivered (through a smart host to a sink); a scanner that does not answer
 * lets mail through unchecked by default, or refuses it for now with POSTLOG_SCAN_FAILURE=tempfail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { GTUBE } from '../contract/message-scanner.contract.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import type { DaemonProcess } from '../helpers/daemon-process.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startRspamd } from '../helpers/rspamd.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startSpamd } from '../helpers/spamd.js';

const key = (apiKey: string) => ({ 'x-server-api-key': apiKey });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const spamBody = { subject: 'Spam test', text: `This is the GTUBE:\n\n${GTUBE}\n` };
const plainBody = {
  subject: 'Lunch tomorrow',
  text: 'Hi Alice,\n\nshall we have lunch tomorrow at noon, at the usual place?\n\nBob\n',
};

async function send(t: TestApp, tenant: Tenant, body: Record<string, unknown>) {
  return http(t.url, 'POST', '/v2/messages', {
    headers: key(tenant.apiKey),
    body: { from: 'Bob <bob@sender.test>', to: ['alice@example.com'], ...body },
  });
}

async function view(t: TestApp, tenant: Tenant, id: string) {
  return (await http(t.url, 'GET', `/v2/messages/${id}`, { headers: key(tenant.apiKey) })).body;
}

async function acceptedData(t: TestApp, id: string): Promise<Record<string, any>> {
  const [accepted] = await t.app.eventStore.readStream(`message-${id}`);
  assert.equal(accepted?.type, 'MessageAccepted');
  return accepted!.data as Record<string, any>;
}

/** Sets the threshold as an organization's admin would: PATCH /v2/servers/{id}. */
async function setThreshold(t: TestApp, tenant: Tenant, threshold: number | null) {
  const res = await http(t.url, 'PATCH', `/v2/servers/${tenant.server.id}`, {
    headers: bearer(tenant.adminToken),
    body: { outboundSpamThreshold: threshold },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.outboundSpamThreshold, threshold);
}

describe('outbound spam check with spamd: HTTP and SMTP submission', () => {
  let spamd: DaemonProcess;
  let sink: SmtpSink;
  let t: TestApp;
  let checked: Tenant;
  let unchecked: Tenant;
  let submissionPort: number;

  before(async () => {
    spamd = await startSpamd();
    sink = await startSmtpSink('127.0.0.1', await freePort(), { tls: false });
    submissionPort = await freePort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp,mta,projector',
      POSTLOG_DATA_DIR: tempDataDir('postlog-spamcheck-'),
      POSTLOG_SUBMISSION_PORT: String(submissionPort),
      POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
      POSTLOG_SMART_HOST: `127.0.0.1:${sink.port}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      POSTLOG_SPAMD_HOST: '127.0.0.1',
      POSTLOG_SPAMD_PORT: String(spamd.port),
    });
    checked = await createTenant(t.app, { domain: 'sender.test' });
    unchecked = await createTenant(t.app, { domain: 'sender.test' });
    await setThreshold(t, checked, 5);
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
    await spamd?.stop();
  });

  it('POST /v2/messages with GTUBE: accepted, held as spam, the score and symbols in the reason', async () => {
    const res = await send(t, checked, spamBody);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const [m] = res.body.messages;
    assert.deepEqual([m.status, m.held_reason], ['held', 'spam']);
    const v = await view(t, checked, m.id);
    assert.equal(v.status, 'held');
    assert.match(v.heldReason, /^spam score \d+\.\d ≥ 5\.0: GTUBE(, |$)/);
    assert.equal(v.spamStatus, 'Spam', 'the verdict is on the message as the API shows it');
    assert.ok(v.spamScore >= 5);
    const data = await acceptedData(t, m.id);
    assert.equal(data.spamCheck.spamStatus, 'Spam');
    assert.ok(data.spamCheck.spamScore >= 5);
    assert.equal(data.spamCheck.spamThreshold, 5);
    assert.ok(data.spamCheck.symbols.some((s: { name: string }) => s.name === 'GTUBE'));
  });

  it('a plain message is checked, not spam, and delivered', async () => {
    const res = await send(t, checked, plainBody);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const [m] = res.body.messages;
    assert.equal(m.status, 'queued');
    const data = await acceptedData(t, m.id);
    assert.equal(data.spamCheck.spamStatus, 'NotSpam');
    assert.ok(data.spamCheck.spamScore < 5);
    const deadline = Date.now() + 20_000;
    let status = '';
    while (Date.now() < deadline && (status = (await view(t, checked, m.id)).status) !== 'delivered')
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(status, 'delivered');
    assert.ok(sink.received.some((r) => r.raw.toString('utf8').includes('lunch tomorrow at noon')));
  });

  it('a batch with per-recipient contents: each content has its own verdict (only the GTUBE one is held)', async () => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      headers: key(checked.apiKey),
      body: {
        from: 'Bob <bob@sender.test>',
        to: Array.from({ length: 10 }, (_, i) => ({
          address: `r${i}@example.com`,
          variables: { body: i === 7 ? GTUBE : 'see you at noon' },
        })),
        subject: 'Lunch',
        text: 'Hi,\n\n{{body}}\n',
      },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.messages.map((m: { status: string }) => m.status),
      Array.from({ length: 10 }, (_, i) => (i === 7 ? 'held' : 'queued')),
    );
  });

  it('SMTP submission with GTUBE: 250, and the message is held as spam', async () => {
    const info = await nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: submissionPort,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
        auth: { user: checked.smtp.username, pass: checked.smtp.password },
      })
      .sendMail({ from: 'bob@sender.test', to: 'carol@example.com', ...spamBody });
    const id = /queued as (\d+)/.exec(info.response)![1]!;
    const v = await view(t, checked, id);
    assert.equal(v.status, 'held');
    assert.match(v.heldReason, /^spam score \d+\.\d ≥ 5\.0: GTUBE/);
    assert.equal((await acceptedData(t, id)).spamCheck.spamStatus, 'Spam');
  });

  it('a server without a threshold is not checked: GTUBE goes out like any message', async () => {
    const res = await send(t, unchecked, spamBody);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const [m] = res.body.messages;
    assert.equal(m.status, 'queued');
    assert.equal((await acceptedData(t, m.id)).spamCheck, undefined);
  });

  it('the threshold is a server setting: shown, changed, and turned off with null', async () => {
    const got = await http(t.url, 'GET', `/v2/servers/${unchecked.server.id}`, {
      headers: bearer(unchecked.adminToken),
    });
    assert.equal(got.body.outboundSpamThreshold, null);
    await setThreshold(t, unchecked, 2000);
    const high = await send(t, unchecked, spamBody);
    // GTUBE's 1000 points are under 2000: checked, recorded, not held
    assert.equal(high.body.messages[0].status, 'queued');
    assert.equal((await acceptedData(t, high.body.messages[0].id)).spamCheck.spamStatus, 'NotSpam');
    await setThreshold(t, unchecked, null);
    const bad = await http(t.url, 'PATCH', `/v2/servers/${unchecked.server.id}`, {
      headers: bearer(unchecked.adminToken),
      body: { outboundSpamThreshold: -1 },
    });
    assert.equal(bad.status, 400);
  });
});

describe('outbound spam check with rspamd', () => {
  let rspamd: DaemonProcess & { url: string };
  let t: TestApp;
  let tenant: Tenant;
  before(async () => {
    rspamd = await startRspamd();
    t = await startTestApp({ POSTLOG_RSPAMD_URL: rspamd.url });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    await setThreshold(t, tenant, 5);
  });
  after(async () => {
    await t?.stop();
    await rspamd?.stop();
  });

  it('GTUBE is held as spam, named in the reason; a plain message is queued', async () => {
    const spam = await send(t, tenant, spamBody);
    assert.equal(spam.body.messages[0].status, 'held');
    const v = await view(t, tenant, spam.body.messages[0].id);
    assert.match(v.heldReason, /^spam score \d+\.\d ≥ 5\.0: .*GTUBE/);
    const plain = await send(t, tenant, plainBody);
    assert.equal(plain.body.messages[0].status, 'queued', JSON.stringify(plain.body));
    assert.equal((await acceptedData(t, plain.body.messages[0].id)).spamCheck.spamStatus, 'NotSpam');
  });
});

describe('outbound spam check with the scanner down', () => {
  let closedPort: number;
  const apps: TestApp[] = [];
  before(async () => {
    closedPort = await freePort();
  });
  after(async () => {
    for (const a of apps) await a.stop();
  });

  async function appWith(policy: 'accept' | 'tempfail') {
    const submissionPort = await freePort();
    const t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp',
      POSTLOG_DATA_DIR: tempDataDir('postlog-spamdown-'),
      POSTLOG_SUBMISSION_PORT: String(submissionPort),
      POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
      POSTLOG_SPAMD_HOST: '127.0.0.1',
      POSTLOG_SPAMD_PORT: String(closedPort),
      POSTLOG_SCAN_FAILURE: policy,
    });
    apps.push(t);
    const tenant = await createTenant(t.app, { domain: 'sender.test' });
    await setThreshold(t, tenant, 5);
    return { t, tenant, submissionPort };
  }

  it('fail-open (the default): accepted unchecked, the failure recorded and counted', async () => {
    const { t, tenant } = await appWith('accept');
    const res = await send(t, tenant, spamBody);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.messages[0].status, 'queued');
    const data = await acceptedData(t, res.body.messages[0].id);
    assert.deepEqual(data.spamCheck, { spamStatus: 'NotChecked', failures: ['spamassassin: SCANNER_UNREACHABLE'] });
    const metrics = await t.app.metrics.registry.metrics();
    assert.match(metrics, /postlog_scanner_failures_total\{scanner="spamassassin",reason="unreachable"\} 1/);
  });

  it('tempfail: the API answers 503 SPAM_CHECK_UNAVAILABLE and SMTP 451 4.7.1; nothing is accepted', async () => {
    const { t, tenant, submissionPort } = await appWith('tempfail');
    const events = async () => (await t.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n as number;
    const before = await events();
    const res = await send(t, tenant, plainBody);
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.code, 'SPAM_CHECK_UNAVAILABLE');
    await assert.rejects(
      nodemailer
        .createTransport({
          host: '127.0.0.1',
          port: submissionPort,
          requireTLS: true,
          tls: { rejectUnauthorized: false },
          auth: { user: tenant.smtp.username, pass: tenant.smtp.password },
        })
        .sendMail({ from: 'bob@sender.test', to: 'carol@example.com', ...plainBody }),
      (e: { responseCode?: number; response?: string }) =>
        e.responseCode === 451 && /4\.7\.1 The spam check could not be made/.test(e.response ?? ''),
    );
    assert.equal(await events(), before);
  });
});
