import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { reputationStreamId, systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { runCli, tempDataDir } from '../helpers/postlog-process.js';
import { arfComplaint, smtpSend } from '../helpers/smtp-send.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * The reputation guard end to end (issue 25): mail delivered to a sink, an ARF complaint through the
 * inbound MX, the server paused past 0.3 %, new mail held with the reason, the webhooks, the figures
 * over the API and /metrics, and an operator's resume that releases the held mail to the sink.
 */
describe('reputation guard: a complaint rate past the pause threshold holds new mail until a resume', () => {
  let t: TestApp;
  let tenant: Tenant;
  let sink: SmtpSink;
  let receiver: WebhookReceiver;
  let inboundPort: number;
  let submissionPort: number;
  let globalToken: string;
  const key = () => ({ 'X-Server-API-Key': tenant.apiKey });
  const send = async (to: string[], subject = 'Hello') => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'news@rep.test', to, subject, text: 'x' },
      headers: key(),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.messages as { id: string; to: string; status: string; heldReason?: string }[];
  };
  const received = (to: string) => sink.received.find((m) => m.to.includes(to));

  before(async () => {
    inboundPort = await freePort();
    submissionPort = await freePort();
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.8', sinkPort, { tls: false });
    receiver = await startWebhookReceiver();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,mta,projector,inbound,smtp',
      POSTLOG_INBOUND_PORT: String(inboundPort),
      POSTLOG_SUBMISSION_PORT: String(submissionPort),
      POSTLOG_SUBMISSION_TLS_PORT: String(await freePort()),
      // the one-click unsubscribe URL's base
      POSTLOG_PUBLIC_URL: 'https://postlog.test',
      POSTLOG_DATA_DIR: tempDataDir('postlog-reputation-'),
      POSTLOG_SMART_HOST: `127.0.0.8:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
      // a delivery deferred under load (the sink slow to answer) is tried again at once, not in minutes
      POSTLOG_RETRY_DELAYS: '1',
      POSTLOG_DNS_SERVERS: '127.0.0.1:9',
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_WEBHOOK_POLL_MS: '50',
      // ten messages are enough for a rate here (100 by default); checked twice a second
      POSTLOG_REPUTATION_MIN_VOLUME: '10',
      POSTLOG_REPUTATION_CHECK_SECONDS: '0.5',
    });
    tenant = await createTenant(t.app, { domain: 'rep.test' });
    const hook = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/webhooks`, {
      body: { url: receiver.url, events: ['ReputationWarning', 'SendingPaused'] },
      headers: key(),
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'operator', organizationId: null });
    assert.ok(token.ok);
    globalToken = token.value.secret;
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
    await receiver?.close();
  });

  it('pauses at one complaint in ten deliveries, holds new mail, and a resume releases it to the sink', async () => {
    const recipients = Array.from({ length: 10 }, (_, i) => `reader${i}@example.org`);
    await send(recipients);
    await eventually(
      async () => (recipients.every(received) ? true : undefined),
      () => `the sink has ${sink.received.length} of 10`,
    );
    // a mailbox provider reports one of them: one complaint in ten deliveries is 10 %
    const raw = received('reader3@example.org')!.raw.toString();
    const headers = raw.slice(0, raw.indexOf('\r\n\r\n'));
    const res = await smtpSend(inboundPort, '', 'fbl@postlog.test', arfComplaint(headers));
    assert.equal(res.code, 250, res.response);

    // the webhooks: a warning (0.1 %) and the pause (0.3 %), of the server and of its one sending domain
    const hooks = await eventually(
      async () => (receiver.received.length >= 4 ? receiver.received.map((h) => h.json) : undefined),
      () => `received ${receiver.received.map((h) => h.json.event).join(', ')}`,
    );
    assert.deepEqual(hooks.map((h) => `${h.event}:${h.payload.domain}`).sort(), [
      'ReputationWarning:null',
      'ReputationWarning:rep.test',
      'SendingPaused:null',
      'SendingPaused:rep.test',
    ]);
    const paused = hooks.find((h) => h.event === 'SendingPaused' && h.payload.domain === null)!.payload;
    assert.equal(paused.server.uuid, tenant.server.id);
    assert.equal(paused.kind, 'complaint');
    assert.equal(paused.rate, 0.1);
    assert.equal(paused.count, 1);
    assert.equal(paused.volume, 10);
    assert.equal(paused.threshold, 0.003);
    assert.match(paused.reason, /complaint rate of the server is 10 % \(1 of 10\)/);

    // in the log: the server's reputation stream (the domain, the only one, pauses as well)
    const stream = await t.app.eventStore.readStream(reputationStreamId(tenant.server.id));
    assert.deepEqual(stream.map((e) => `${e.type}:${(e.data as { domain: string | null }).domain}`).sort(), [
      'ReputationWarning:null',
      'ReputationWarning:rep.test',
      'SendingPaused:null',
      'SendingPaused:rep.test',
    ]);

    // the rates and the state over the API (any admin of the organization reads them)
    const view = await http(t.url, 'GET', `/v2/servers/${tenant.server.id}/reputation`, {
      headers: { authorization: `Bearer ${tenant.adminToken}` },
    });
    assert.equal(view.status, 200, JSON.stringify(view.body));
    assert.equal(view.body.paused, true);
    assert.deepEqual(view.body.thresholds.complaint, { warnPercent: 0.1, pausePercent: 0.3 });
    const server = view.body.scopes.find((s: { domain: string | null }) => s.domain === null);
    assert.equal(server.delivered, 10);
    assert.equal(server.complaints, 1);
    assert.equal(server.complaint.percent, 10);
    assert.equal(server.paused.kind, 'complaint');

    // and in /metrics
    const metrics = await eventually(
      async () => {
        const m = await http(t.url, 'GET', '/metrics');
        return /postlog_sending_paused\{[^}]*domain=""[^}]*\} 1/.test(String(m.body)) ? String(m.body) : undefined;
      },
      () => 'postlog_sending_paused not 1',
    );
    assert.match(metrics, /postlog_reputation_rate\{[^}]*domain=""[^}]*kind="complaint"[^}]*\} 0\.1/);

    // and from the CLI, on the operator's machine
    const cli = await runCli(['reputation', 'status', tenant.server.id], {
      ...(process.env as Record<string, string>),
      POSTLOG_DATABASE_URL: t.db.url,
      POSTLOG_DATA_DIR: tempDataDir('postlog-reputation-cli-'),
      POSTLOG_LOG_LEVEL: 'silent',
      POSTLOG_REPUTATION_MIN_VOLUME: '10',
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /PAUSED/);
    assert.match(cli.stdout, /\(server\)\s+complaints 10 % \(1\/10\)/);

    // new mail is accepted and held with the reason, never dropped
    const [held] = await send(['later@example.org'], 'While paused');
    assert.equal(held!.status, 'held');
    const detail = await http(t.url, 'GET', `/v2/messages/${held!.id}`, { headers: key() });
    assert.match(detail.body.heldReason, /sending is paused: the complaint rate of the server is 10 %/);
    // the server's own key cannot release it: the pause is the operator's
    const release = await http(t.url, 'POST', `/v2/messages/${held!.id}/release`, { headers: key() });
    assert.equal(release.status, 403, JSON.stringify(release.body));
    assert.equal(release.body.code, 'RELEASE_NOT_ALLOWED');

    // an organization admin may not resume; a global admin does, and the held mail goes out
    const refused = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/reputation/resume`, {
      body: {},
      headers: { authorization: `Bearer ${tenant.adminToken}` },
    });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    const nowhere = await http(t.url, 'POST', '/v2/servers/00000000-0000-4000-8000-000000000000/reputation/resume', {
      body: {},
      headers: { authorization: `Bearer ${globalToken}` },
    });
    assert.equal(nowhere.status, 404, JSON.stringify(nowhere.body));
    const resumed = await http(t.url, 'POST', `/v2/servers/${tenant.server.id}/reputation/resume`, {
      body: {},
      headers: { authorization: `Bearer ${globalToken}` },
    });
    assert.equal(resumed.status, 200, JSON.stringify(resumed.body));
    assert.deepEqual([...resumed.body.resumed].sort(), [null, 'rep.test'].sort());
    assert.equal(resumed.body.reputation.paused, false);
    await eventually(
      async () => (received('later@example.org') ? true : undefined),
      () => 'the held message did not reach the sink',
    );
    // the window restarted at the resume: new mail goes out, and no new pause follows
    const [after] = await send(['after@example.org'], 'After the resume');
    assert.equal(after!.status, 'queued');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(receiver.received.length, 4, 'no further webhook');
  });

  it('Feedback-ID and SMTP List-Unsubscribe when a server opts in: signed, one per recipient, never doubled', async () => {
    const other = await createTenant(t.app, { domain: 'headers.test' });
    const admin = { authorization: `Bearer ${other.adminToken}` };
    const path = `/v2/servers/${other.server.id}/deliverability`;
    const before = await http(t.url, 'GET', path, { headers: admin });
    assert.deepEqual(before.body, { feedbackId: null, smtpListUnsubscribe: false, reputation: null });
    const changed = await http(t.url, 'PATCH', path, {
      body: { feedbackId: { mailType: 'newsletter' }, smtpListUnsubscribe: true },
      headers: admin,
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual(changed.body.feedbackId, {
      template: '{campaign}:{server}:{mailtype}:{senderid}',
      mailType: 'newsletter',
      senderId: null,
    });
    const injected = await http(t.url, 'PATCH', path, {
      body: { feedbackId: { template: 'a\r\nBcc: x@example.org' } },
      headers: admin,
    });
    assert.equal(injected.status, 400, 'a header line break is refused');

    const smtp = nodemailer.createTransport({
      host: '127.0.0.1',
      port: submissionPort,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: other.smtp.username, pass: other.smtp.password },
    });
    await smtp.sendMail({
      from: 'news@headers.test',
      to: ['one@example.org', 'two@example.org'],
      subject: 'Spring',
      text: 'x',
      headers: { 'X-SMTPAPI': JSON.stringify({ category: 'spring-sale' }) },
    });
    await smtp.sendMail({
      from: 'news@headers.test',
      to: 'own@example.org',
      subject: 'Own header',
      text: 'x',
      headers: { 'List-Unsubscribe': '<mailto:leave@headers.test>' },
    });
    const api = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'news@headers.test', to: ['api@example.org'], subject: 'Over HTTP', text: 'x' },
      headers: { 'X-Server-API-Key': other.apiKey },
    });
    assert.equal(api.status, 202, JSON.stringify(api.body));
    let apiHistory = '';
    const mails = await eventually(
      async () => {
        const all = ['one@example.org', 'two@example.org', 'own@example.org', 'api@example.org'].map(received);
        if (all.every(Boolean)) return all.map((m) => m!.raw.toString());
        const h = await http(t.url, 'GET', `/v2/messages/${api.body.messages[0].id}/history`, {
          headers: { 'X-Server-API-Key': other.apiKey },
        });
        apiHistory = JSON.stringify(h.body).slice(0, 1500);
        return undefined;
      },
      () => `the sink has ${sink.received.map((m) => m.to).join(', ')}; the API's message: ${apiHistory}`,
      { timeoutMs: 30_000 },
    );
    const [one, two, own, viaApi] = mails as [string, string, string, string];
    const header = (raw: string, name: string) =>
      raw
        .slice(0, raw.indexOf('\r\n\r\n'))
        .replace(/\r\n[ \t]+/g, ' ')
        .split('\r\n')
        .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
        .map((l) => l.slice(name.length + 1).trim());
    const feedbackId = `spring-sale:${other.server.id}:newsletter:${other.organizationId}`;
    assert.deepEqual(header(one, 'Feedback-ID'), [feedbackId]);
    assert.deepEqual(header(viaApi, 'Feedback-ID'), [`none:${other.server.id}:newsletter:${other.organizationId}`]);
    // each recipient's copy has its own one-click URL (it names that recipient's message)
    const [u1] = header(one, 'List-Unsubscribe');
    const [u2] = header(two, 'List-Unsubscribe');
    assert.match(u1!, /^<https:\/\/postlog\.test\/t\/u\/[^>]+>, <mailto:u-/);
    assert.notEqual(u1, u2);
    assert.deepEqual(header(one, 'List-Unsubscribe-Post'), ['List-Unsubscribe=One-Click']);
    // a message with its own List-Unsubscribe keeps it alone
    assert.deepEqual(header(own, 'List-Unsubscribe'), ['<mailto:leave@headers.test>']);
    assert.deepEqual(header(own, 'List-Unsubscribe-Post'), []);
    // DKIM covers them
    const [dkim] = header(one, 'DKIM-Signature');
    const signed = /\bh=([^;]+)/.exec(dkim!)![1]!.replace(/\s+/g, '').toLowerCase().split(':');
    for (const name of ['feedback-id', 'list-unsubscribe', 'list-unsubscribe-post'])
      assert.ok(signed.includes(name), `${name} is signed (h=${signed.join(':')})`);
  });
});
