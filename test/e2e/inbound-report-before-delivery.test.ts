import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { messageStreamId } from '../../domain/index.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { arfComplaint, smtpSend } from '../helpers/smtp-send.js';

/**
 * A complaint can come before the MTA has recorded the delivery it is about: the receiving server had the
 * message at its 250, and the outcome is written moments later (longer when the log is slow). The report
 * waits for the delivery and is recorded after it; it used to be dropped as "not delivered".
 */
describe('inbound: a complaint about a message whose delivery is not in the log yet', () => {
  let t: TestApp;
  let tenant: Tenant;
  let inboundPort: number;

  before(async () => {
    inboundPort = await freePort();
    t = await startTestApp({
      // no MTA: the test records the delivery itself, when it chooses
      POSTLOG_ROLES: 'api,inbound',
      POSTLOG_INBOUND_PORT: String(inboundPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-report-before-delivery-'),
      POSTLOG_DNS_SERVERS: '127.0.0.1:9',
    });
    tenant = await createTenant(t.app, { domain: 'early.test' });
  });
  after(async () => {
    await t?.stop();
  });

  it('waits for the delivery to be recorded, then records the complaint after it', async () => {
    const sent = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'news@early.test', to: ['reader@example.org'], subject: 'Hello', text: 'x' },
      headers: { 'X-Server-API-Key': tenant.apiKey },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const id = sent.body.messages[0].id as string;
    const [accepted] = await t.app.eventStore.readStream(messageStreamId(id), { limit: 1 });
    const token = (accepted!.data as { token: string }).token;
    // the mailbox provider's report quotes the headers of the copy it received
    const headers = [`X-Postlog-MsgID: ${id}-${token}`, 'From: news@early.test', 'Subject: Hello'].join('\r\n');
    const answer = smtpSend(inboundPort, '', 'fbl@postlog.test', arfComplaint(headers));
    await new Promise((resolve) => setTimeout(resolve, 700)); // the report is in, the delivery not yet
    const at = new Date().toISOString();
    const delivery = { attempt: 1, mxHost: 'mx.example.org', reply: { code: 250, text: 'OK' }, durationMs: 5, at };
    const recorded = await handleMessageCommand(
      t.app.eventStore,
      id,
      { type: 'RecordDelivery', delivery, at },
      { serverId: tenant.server.id, actor: 'test' },
    );
    assert.ok(recorded.ok, JSON.stringify(recorded));
    const answered = await answer;
    assert.equal(answered.code, 250, answered.response);
    const types = (await t.app.eventStore.readStream(messageStreamId(id))).map((e) => e.type);
    assert.deepEqual(types.slice(-2), ['MessageDelivered', 'MessageComplained']);
  });
});
