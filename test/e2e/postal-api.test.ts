import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import https from 'node:https';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { startTlsProxy } from '../helpers/tls-proxy.js';

const require = createRequire(import.meta.url);

async function eventCount(t: TestApp): Promise<number> {
  const { rows } = await t.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
  return rows[0]!.n;
}

describe('Postal-compatible API (/api/v1)', () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  const send = (params: unknown, key = a.apiKey) =>
    http(t.url, 'POST', '/api/v1/send/message', { body: params, headers: { 'X-Server-API-Key': key } });

  before(async () => {
    t = await startTestApp();
    a = await createTenant(t.app, { domain: 'sender.test' });
    b = await createTenant(t.app, { domain: 'other.test' });
  });
  after(async () => t.stop());

  it("sends one message per recipient, keyed by bare address, in Postal's envelope", async () => {
    const res = await send({
      to: ['Bob <Bob@Example.org>', 'carol@example.net'],
      cc: 'dave@example.com',
      bcc: ['erin@example.com'],
      from: 'App <app@sender.test>',
      subject: 'Welcome',
      plain_body: 'Hello',
      html_body: '<p>Hello</p>',
      tag: 'welcome',
      headers: { 'X-Campaign': 'spring' },
      attachments: [{ name: 'a.txt', content_type: 'text/plain', data: Buffer.from('attached').toString('base64') }],
    });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body), ['status', 'time', 'flags', 'data']);
    assert.equal(res.body.status, 'success');
    assert.equal(typeof res.body.time, 'number');
    assert.deepEqual(res.body.flags, {});
    assert.match(res.body.data.message_id, /^[0-9a-f-]{36}@postlog\.test$/);
    assert.deepEqual(Object.keys(res.body.data.messages), [
      'Bob@Example.org',
      'carol@example.net',
      'dave@example.com',
      'erin@example.com',
    ]);
    for (const m of Object.values(res.body.data.messages) as { id: number; token: string }[]) {
      assert.equal(typeof m.id, 'number');
      assert.match(m.token, /^[A-Za-z0-9]{16}$/);
    }
    // the log has each message; the content is stored once and shared
    const ids = (Object.values(res.body.data.messages) as { id: number }[]).map((m) => m.id);
    const streams = await Promise.all(ids.map((id) => t.app.eventStore.readStream(`message-${id}`)));
    for (const s of streams)
      assert.deepEqual(
        s.map((e) => e.type),
        ['MessageAccepted', 'MessageQueued'],
      );
    const hashes = new Set(streams.map((s) => (s[0]!.data as { contentHash: string }).contentHash));
    assert.equal(hashes.size, 1);
    const { rows } = await t.db.pool.query('SELECT body FROM contents WHERE sha256 = $1', [[...hashes][0]]);
    const raw = (rows[0].body as Buffer).toString();
    assert.match(raw, /^To: Bob <Bob@example.org>, carol@example.net\r$/m);
    assert.match(raw, /^Cc: dave@example.com\r$/m);
    assert.doesNotMatch(raw, /erin@example.com/, 'BCC is not in the headers');
    assert.match(raw, /^X-Campaign: spring\r$/m);
    assert.match(raw, new RegExp(`^Message-ID: <${res.body.data.message_id}>\r$`, 'm'));
  });

  it("refuses bad requests with Postal's codes, in Postal's order, appending nothing", async () => {
    const before = await eventCount(t);
    const base = { to: ['x@example.org'], from: 'app@sender.test', plain_body: 'hi' };
    const many = Array.from({ length: 51 }, (_, i) => `r${i}@example.org`);
    const cases: [unknown, string, string][] = [
      [
        { from: 'app@sender.test', plain_body: 'hi' },
        'NoRecipients',
        'There are no recipients defined to receive this message',
      ],
      [{ ...base, to: many }, 'TooManyToAddresses', 'The maximum number of To addresses has been reached (maximum 50)'],
      [{ ...base, cc: many }, 'TooManyCCAddresses', 'The maximum number of CC addresses has been reached (maximum 50)'],
      [
        { ...base, bcc: many },
        'TooManyBCCAddresses',
        'The maximum number of BCC addresses has been reached (maximum 50)',
      ],
      [{ ...base, plain_body: '' }, 'NoContent', 'There is no content defined for this e-mail'],
      [{ ...base, from: '' }, 'FromAddressMissing', 'The From address is missing and is required'],
      [
        { ...base, from: 'app@unverified.test' },
        'UnauthenticatedFromAddress',
        'The From address is not authorised to send mail from this server',
      ],
      [{ ...base, attachments: [{ data: 'aGk=' }] }, 'AttachmentMissingName', 'An attachment is missing a name'],
      [
        { ...base, attachments: [{ name: 'x.txt', data: '' }] },
        'AttachmentMissingData',
        'An attachment is missing data',
      ],
      // NoRecipients wins over NoContent: the first failure is reported
      [{ from: 'app@sender.test' }, 'NoRecipients', 'There are no recipients defined to receive this message'],
    ];
    for (const [params, code, message] of cases) {
      const res = await send(params);
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'error', code);
      assert.deepEqual(res.body.data, { message, code });
    }
    const injected = await send({ ...base, headers: { 'X-Bad': 'a\r\nBcc: victim@example.org' } });
    assert.equal(injected.body.data.code, 'ValidationError');
    const owned = await send({ ...base, headers: { 'Message-ID': '<forged@example.org>' } });
    assert.equal(owned.body.data.code, 'ValidationError');
    assert.equal(await eventCount(t), before);
  });

  it('answers a body that is not JSON as a parameter error, not an internal error', async () => {
    for (const path of ['/api/v1/send/message', '/api/v1/messages/message']) {
      const res = await fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'X-Server-API-Key': a.apiKey },
        body: '{"to": [',
      });
      const body = (await res.json()) as { status: string; data: { message: string } };
      assert.equal(body.status, 'parameter-error', `${path}: ${JSON.stringify(body)}`);
      assert.match(body.data.message, /JSON/);
    }
  });

  it('authenticates like Postal: AccessDenied, InvalidServerAPIKey, ServerSuspended', async () => {
    const none = await http(t.url, 'POST', '/api/v1/send/message', { body: {} });
    assert.deepEqual(none.body.data, { message: 'Must be authenticated as a server.', code: 'AccessDenied' });
    const wrong = await send({}, 'not-a-key');
    assert.deepEqual(wrong.body.data, {
      message: 'The API token provided in X-Server-API-Key was not valid.',
      token: 'not-a-key',
      code: 'InvalidServerAPIKey',
    });
    const c = await createTenant(t.app, { domain: 'suspended.test' });
    await t.app.tenancy.updateServer(systemActor('test'), c.server.id, { suspended: true });
    const suspended = await send({ to: ['x@example.org'], from: 'a@suspended.test', plain_body: 'x' }, c.apiKey);
    assert.equal(suspended.body.status, 'error');
    assert.equal(suspended.body.data.code, 'ServerSuspended');
  });

  it("holds the messages past the server's hourly send limit", async () => {
    const c = await createTenant(t.app, { domain: 'limited.test' });
    await t.app.tenancy.updateServer(systemActor('test'), c.server.id, { sendLimitPerHour: 2 });
    const first = await send(
      { to: ['l1@example.org', 'l2@example.org', 'l3@example.org'], from: 'a@limited.test', plain_body: 'x' },
      c.apiKey,
    );
    const second = await send({ to: ['l4@example.org'], from: 'a@limited.test', plain_body: 'x' }, c.apiKey);
    const ids = [...Object.values(first.body.data.messages), ...Object.values(second.body.data.messages)].map(
      (m) => (m as { id: number }).id,
    );
    const statuses = [];
    for (const id of ids) {
      const res = await http(t.url, 'POST', '/api/v1/messages/message', {
        body: { id, _expansions: ['status'] },
        headers: { 'X-Server-API-Key': c.apiKey },
      });
      statuses.push(res.body.data.status.status);
    }
    assert.deepEqual(statuses, ['Pending', 'Pending', 'Held', 'Held']);
  });

  it('reads parameters from a form field "params" holding JSON', async () => {
    const form = new URLSearchParams({
      params: JSON.stringify({ to: ['form@example.org'], from: 'app@sender.test', plain_body: 'via form' }),
    });
    const res = await fetch(`${t.url}/api/v1/send/message`, {
      method: 'POST',
      headers: { 'X-Server-API-Key': a.apiKey, 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const body = (await res.json()) as { status: string; data: { messages: Record<string, unknown> } };
    assert.equal(body.status, 'success');
    assert.deepEqual(Object.keys(body.data.messages), ['form@example.org']);
    const bad = await fetch(`${t.url}/api/v1/send/message`, {
      method: 'POST',
      headers: { 'X-Server-API-Key': a.apiKey, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'params=%7Bnot-json',
    });
    assert.equal(((await bad.json()) as { status: string }).status, 'parameter-error');
  });

  it('send/raw stores the message as given and checks the From header', async () => {
    const raw =
      'From: App <app@sender.test>\r\nTo: raw@example.org\r\nSubject: Raw one\r\nMessage-ID: <raw-1@sender.test>\r\n\r\nBody\r\n';
    const call = (params: unknown) =>
      http(t.url, 'POST', '/api/v1/send/raw', { body: params, headers: { 'X-Server-API-Key': a.apiKey } });
    const res = await call({
      mail_from: 'app@sender.test',
      rcpt_to: ['raw@example.org', 'raw2@example.org'],
      data: Buffer.from(raw).toString('base64'),
    });
    assert.equal(res.body.status, 'success');
    assert.equal(res.body.data.message_id, 'raw-1@sender.test');
    assert.deepEqual(Object.keys(res.body.data.messages), ['raw@example.org', 'raw2@example.org']);
    const id = res.body.data.messages['raw@example.org'].id as number;
    const [accepted] = await t.app.eventStore.readStream(`message-${id}`);
    const { rows } = await t.db.pool.query('SELECT body FROM contents WHERE sha256 = $1', [
      (accepted!.data as { contentHash: string }).contentHash,
    ]);
    assert.equal((rows[0].body as Buffer).toString(), raw, 'stored byte for byte');
    // without a Message-ID: Postal answers none; the message gets one in its bytes, which every recipient shares
    const unnamed = raw.replace('Message-ID: <raw-1@sender.test>\r\n', '');
    const noId = await call({
      mail_from: 'app@sender.test',
      rcpt_to: ['raw@example.org', 'raw2@example.org'],
      data: Buffer.from(unnamed).toString('base64'),
    });
    assert.equal(noId.body.data.message_id, null);
    const given = new Set<string>();
    for (const m of Object.values(noId.body.data.messages) as { id: number }[]) {
      const [event] = await t.app.eventStore.readStream(`message-${m.id}`);
      const data = event!.data as { contentHash: string; rfcMessageId: string };
      const body = (await t.db.pool.query('SELECT body FROM contents WHERE sha256 = $1', [data.contentHash])).rows[0]
        .body;
      const named = unnamed.replace('\r\n\r\n', `\r\nMessage-ID: <${data.rfcMessageId}>\r\n\r\n`);
      assert.equal((body as Buffer).toString(), named, 'the last field of the header section');
      given.add(data.rfcMessageId);
    }
    assert.equal(given.size, 1);

    const notArray = (await call({ mail_from: 'a@sender.test', rcpt_to: 'x@example.org', data: 'eA==' })).body;
    assert.deepEqual(
      { ...notArray, time: 0 },
      {
        status: 'parameter-error',
        time: 0,
        flags: {},
        data: { message: '`rcpt_to` parameter is required but is missing' },
      },
    );
    assert.equal(
      (await call({ rcpt_to: [], data: 'eA==' })).body.data.message,
      '`mail_from` parameter is required but is missing',
    );
    const foreign = await call({
      mail_from: 'a@sender.test',
      rcpt_to: ['x@example.org'],
      data: Buffer.from(raw.replace('app@sender.test', 'ceo@bank.test')).toString('base64'),
    });
    assert.equal(foreign.body.data.code, 'UnauthenticatedFromAddress');
    // a second From mailbox (or header) must not ride on the verified one
    const twoFrom = await call({
      mail_from: 'a@sender.test',
      rcpt_to: ['x@example.org'],
      data: Buffer.from(raw.replace('From: App <app@sender.test>', 'From: app@sender.test, ceo@bank.test')).toString(
        'base64',
      ),
    });
    assert.equal(twoFrom.body.data.code, 'UnauthenticatedFromAddress');
    const twoHeaders = await call({
      mail_from: 'a@sender.test',
      rcpt_to: ['x@example.org'],
      data: Buffer.from(`From: ceo@bank.test\r\n${raw}`).toString('base64'),
    });
    assert.equal(twoHeaders.body.data.code, 'UnauthenticatedFromAddress');
    const empty = await call({ mail_from: 'a@sender.test', rcpt_to: [], data: Buffer.from(raw).toString('base64') });
    assert.deepEqual(empty.body.data, { message_id: null, messages: {} });
  });

  it("send/raw and send/message hold a Sender to the server's domains and allowed senders (as SMTP does)", async () => {
    const c = await createTenant(t.app, { domain: 'senders.test' });
    const patched = await http(t.url, 'PATCH', `/v2/servers/${c.server.id}`, {
      body: { allowedSenders: ['ops@partner.test', 'agency.test'] },
      headers: { authorization: `Bearer ${c.adminToken}` },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const headers = { 'X-Server-API-Key': c.apiKey };
    const raw = (sender: string) =>
      http(t.url, 'POST', '/api/v1/send/raw', {
        body: {
          mail_from: 'app@senders.test',
          rcpt_to: ['x@example.org'],
          data: Buffer.from(
            `From: App <app@senders.test>\r\nSender: ${sender}\r\nTo: x@example.org\r\nSubject: On behalf\r\n\r\nHi\r\n`,
          ).toString('base64'),
        },
        headers,
      });
    const message = (sender: string) =>
      http(t.url, 'POST', '/api/v1/send/message', {
        body: { to: ['x@example.org'], from: 'app@senders.test', sender, plain_body: 'hi' },
        headers,
      });
    for (const ok of ['ops@partner.test', 'Anyone <anyone@agency.test>', 'desk@senders.test']) {
      assert.equal((await raw(ok)).body.status, 'success', `send/raw, Sender ${ok}`);
      assert.equal((await message(ok)).body.status, 'success', `send/message, sender ${ok}`);
    }
    const before = await eventCount(t);
    for (const bad of ['other@partner.test', 'x@sub.agency.test', 'ceo@bank.test']) {
      for (const res of [await raw(bad), await message(bad)]) {
        assert.equal(res.body.status, 'error', bad);
        assert.equal(res.body.data.code, 'UnauthenticatedFromAddress', bad);
        assert.match(res.body.data.message, new RegExp(`Sender ${bad.replace(/\./g, '\\.')} is not`), bad);
      }
    }
    // two mailboxes in one Sender: refused too, not read as the first one
    assert.equal((await raw('ops@partner.test, ceo@bank.test')).body.data.code, 'UnauthenticatedFromAddress');
    assert.equal(await eventCount(t), before, 'nothing refused was stored');
  });

  it("messages/message answers from the log with Postal's expansions; other servers see nothing", async () => {
    const sent = await send({
      to: ['reader@example.org'],
      from: 'app@sender.test',
      subject: 'Read me',
      plain_body: 'plain text',
      html_body: '<b>html</b>',
      tag: 'news',
      attachments: [{ name: 'n.txt', content_type: 'text/plain', data: Buffer.from('note').toString('base64') }],
    });
    const id = sent.body.data.messages['reader@example.org'].id as number;
    const call = (params: unknown, key = a.apiKey) =>
      http(t.url, 'POST', '/api/v1/messages/message', { body: params, headers: { 'X-Server-API-Key': key } });
    const bare = await call({ id });
    assert.deepEqual(bare.body.data, { id, token: sent.body.data.messages['reader@example.org'].token });
    const full = await call({ id, _expansions: true });
    const d = full.body.data;
    assert.deepEqual(Object.keys(d), [
      'id',
      'token',
      'status',
      'details',
      'inspection',
      'plain_body',
      'html_body',
      'attachments',
      'headers',
      'raw_message',
      'activity_entries',
    ]);
    assert.deepEqual(d.status, { status: 'Pending', last_delivery_attempt: null, held: false, hold_expiry: null });
    assert.equal(d.details.rcpt_to, 'reader@example.org');
    assert.equal(d.details.mail_from, 'app@sender.test');
    assert.equal(d.details.subject, 'Read me');
    assert.equal(d.details.tag, 'news');
    assert.equal(typeof d.details.size, 'string');
    assert.equal(d.details.bounce_for_id, 0);
    assert.equal(d.plain_body.trim(), 'plain text');
    assert.equal(d.html_body.trim(), '<b>html</b>');
    assert.equal(d.attachments[0].filename, 'n.txt');
    assert.equal(Buffer.from(d.attachments[0].data, 'base64').toString(), 'note');
    assert.equal(d.attachments[0].hash, createHash('sha1').update('note').digest('hex'));
    assert.equal(d.attachments[0].size, 4);
    assert.deepEqual(d.headers.subject, ['Read me']);
    assert.match(Buffer.from(d.raw_message, 'base64').toString(), /Subject: Read me/);
    assert.deepEqual(d.activity_entries, { loads: [], clicks: [] });
    const some = await call({ id, _expansions: ['status'] });
    assert.deepEqual(Object.keys(some.body.data), ['id', 'token', 'status']);

    const deliveries = await http(t.url, 'POST', '/api/v1/messages/deliveries', {
      body: { id },
      headers: { 'X-Server-API-Key': a.apiKey },
    });
    assert.deepEqual(deliveries.body.data, []);

    const foreign = await call({ id, _expansions: true }, b.apiKey);
    assert.deepEqual(foreign.body.data, {
      message: 'No message found matching provided ID',
      id,
      code: 'MessageNotFound',
    });
    assert.equal((await call({})).body.status, 'parameter-error');
    assert.equal((await call({ id: String(id) })).body.data.id, id, 'numeric strings are accepted');
  });

  it('works with the official Postal Node client (@atech/postal) over HTTPS', async () => {
    const proxy = await startTlsProxy(Number(new URL(t.url).port));
    // The client only takes a host name and always uses https on the agent's default port.
    const agent = https.globalAgent as https.Agent & { defaultPort: number; options: https.AgentOptions };
    const saved = { port: agent.defaultPort, reject: agent.options.rejectUnauthorized };
    agent.defaultPort = proxy.port;
    agent.options.rejectUnauthorized = false;
    try {
      const postal = require('@atech/postal') as {
        Client: new (host: string, key: string) => unknown;
        SendMessage: new (
          client: unknown,
        ) => {
          to(a: string): void;
          from(a: string): void;
          subject(s: string): void;
          plainBody(s: string): void;
          htmlBody(s: string): void;
          header(k: string, v: string): void;
          attach(name: string, type: string, data: string): void;
          send(): Promise<{ recipients(): Record<string, { id(): number; token(): string }> }>;
        };
      };
      const client = new postal.Client('127.0.0.1', a.apiKey);
      const message = new postal.SendMessage(client);
      message.to('Client.User@example.org');
      message.from('App <app@sender.test>');
      message.subject('From the official client');
      message.plainBody('Hello from @atech/postal');
      message.htmlBody('<p>Hello</p>');
      message.header('X-Client', 'atech');
      message.attach('hello.txt', 'text/plain', 'hello');
      const result = await message.send();
      const recipients = result.recipients();
      assert.deepEqual(Object.keys(recipients), ['client.user@example.org']);
      const m = recipients['client.user@example.org']!;
      assert.equal(typeof m.id(), 'number');
      assert.match(m.token(), /^[A-Za-z0-9]{16}$/);
      const stream = await t.app.eventStore.readStream(`message-${m.id()}`);
      assert.equal((stream[0]!.data as { subject: string }).subject, 'From the official client');

      const failing = new postal.SendMessage(client);
      failing.to('x@example.org');
      failing.from('app@not-ours.test');
      failing.plainBody('x');
      await assert.rejects(failing.send(), (e: { code: string }) => e.code === 'UnauthenticatedFromAddress');
    } finally {
      agent.defaultPort = saved.port;
      agent.options.rejectUnauthorized = saved.reject;
      await proxy.close();
    }
  });
});
