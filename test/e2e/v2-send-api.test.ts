/**
 * The native send API (POST /v2/messages) and the message read API, over real HTTP against a
 * real running Postlog on a fresh database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';

type SentMessage = { id: string; to: string; token: string; status: string; held_reason: string | null };

const key = (apiKey: string) => ({ 'x-server-api-key': apiKey });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A minimal valid body from the tenant's verified domain (createTenant's default: sender.test). */
const basic = (overrides: Record<string, unknown> = {}) => ({
  from: 'Sender <hello@sender.test>',
  to: ['alice@example.com'],
  subject: 'Hello Alice',
  text: 'Hi there',
  ...overrides,
});

async function eventCount(testApp: TestApp): Promise<number> {
  const { rows } = await testApp.db.pool.query('SELECT count(*)::int AS n FROM events');
  return rows[0].n as number;
}

function messagesOf(body: unknown): SentMessage[] {
  const b = body as { messages?: SentMessage[] };
  assert.ok(Array.isArray(b.messages), `a messages array in ${JSON.stringify(body)}`);
  return b.messages;
}

function only<T>(list: T[]): T {
  assert.equal(list.length, 1, `exactly one element in ${JSON.stringify(list)}`);
  return list[0]!;
}

describe('POST /v2/messages: the native send API', () => {
  let testApp: TestApp;
  let tenant: Tenant;

  before(async () => {
    testApp = await startTestApp();
    tenant = await createTenant(testApp.app);
  });
  after(async () => {
    await testApp?.stop();
  });

  it('accepts a single message with 202, and GET /v2/messages/{id} shows it queued', async () => {
    const before = await eventCount(testApp);
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ tag: 'welcome', metadata: { user: '42' } }),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.match(res.body.batch_id, /^[0-9a-f-]{36}$/);
    const m = only(messagesOf(res.body));
    assert.match(m.id, /^\d+$/);
    assert.equal(m.to, 'alice@example.com');
    assert.match(m.token, /^[A-Za-z0-9]{16}$/);
    assert.equal(m.status, 'queued');
    assert.equal(m.held_reason, null);
    assert.equal(await eventCount(testApp), before + 2, 'MessageAccepted + MessageQueued');

    const view = await http(testApp.url, 'GET', `/v2/messages/${m.id}`, { headers: key(tenant.apiKey) });
    assert.equal(view.status, 200, JSON.stringify(view.body));
    assert.equal(view.body.id, m.id);
    assert.equal(view.body.serverId, tenant.server.id);
    assert.equal(view.body.batchId, res.body.batch_id);
    assert.equal(view.body.token, m.token);
    assert.equal(view.body.status, 'queued');
    assert.equal(view.body.subject, 'Hello Alice');
    assert.equal(view.body.from, 'hello@sender.test');
    assert.equal(view.body.to, 'alice@example.com');
    assert.equal(view.body.tag, 'welcome');
    assert.deepEqual(view.body.metadata, { user: '42' });
    assert.equal(view.body.source, 'api');
    assert.equal(view.body.heldReason, null);
    assert.equal(view.body.scheduledAt, null);
    assert.equal(view.body.attempts, 0);
    assert.match(view.body.rfcMessageId, /^[0-9a-f-]{36}@postlog\.test$/);
    assert.equal(typeof view.body.timestamps.acceptedAt, 'string');
    assert.equal(view.body.timestamps.queuedAt, view.body.timestamps.acceptedAt);
    assert.equal(view.body.nextAttemptAt, view.body.timestamps.acceptedAt, 'due at once');
    assert.ok(view.body.size > 0);
    assert.equal('contentHash' in view.body, false, 'internal fields stay internal');
    assert.equal('events' in view.body, false);

    const raw = await http(testApp.url, 'GET', `/v2/messages/${m.id}/raw`, { headers: key(tenant.apiKey) });
    assert.equal(raw.status, 200);
    assert.match(raw.headers.get('content-type') ?? '', /^message\/rfc822/);
    assert.equal(Buffer.byteLength(raw.body as string), view.body.size);
    const mail = await PostalMime.parse(raw.body as string);
    assert.equal(mail.subject, 'Hello Alice');
    assert.equal(mail.from?.address, 'hello@sender.test');
    assert.equal(mail.from?.name, 'Sender');
    assert.equal(mail.messageId, `<${view.body.rfcMessageId}>`);
    assert.equal(mail.text?.trim(), 'Hi there');
    assert.match(raw.body as string, /^Received: from api \(\[[^\]]+\]\) by postlog\.test with HTTP;/m);
  });

  it('also takes the API key as Authorization: Bearer', async () => {
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: bearer(tenant.apiKey),
      body: basic({ to: ['bearer@example.com'] }),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(only(messagesOf(res.body)).to, 'bearer@example.com');
  });

  it('sends a batch: one message per recipient, with per-recipient variables over top-level ones, HTML-escaped in html', async () => {
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: {
        from: 'Shop <shop@sender.test>',
        to: [
          { address: 'ann@example.com', name: 'Ann', variables: { name: 'Ann', code: 'A-1' } },
          { address: 'bob@example.com', variables: { name: 'Bob <b>&co', code: 'B-2', greeting: 'Yo' } },
          { address: 'cyd@example.com', variables: { name: 'Cyd', code: 'C-3' } },
        ],
        subject: '{{greeting}} {{name}}, your code',
        text: '{{greeting}} {{ name }}: your code is {{code}} at {{company}}.',
        html: '<p>{{greeting}} <strong>{{name}}</strong>, code {{code}} from {{company}}</p>',
        variables: { greeting: 'Hello', company: 'Acme "Tools"' },
      },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const messages = messagesOf(res.body);
    assert.deepEqual(
      messages.map((m) => m.to),
      ['ann@example.com', 'bob@example.com', 'cyd@example.com'],
    );
    assert.ok(messages.every((m) => m.status === 'queued'));
    assert.equal(new Set(messages.map((m) => m.id)).size, 3, 'distinct ids');
    assert.equal(new Set(messages.map((m) => m.token)).size, 3, 'distinct tokens');

    const expected = [
      {
        subject: 'Hello Ann, your code',
        text: 'Hello Ann: your code is A-1 at Acme "Tools".',
        html: '<p>Hello <strong>Ann</strong>, code A-1 from Acme &quot;Tools&quot;</p>',
        to: 'ann@example.com',
        toName: 'Ann',
      },
      {
        subject: 'Yo Bob <b>&co, your code',
        text: 'Yo Bob <b>&co: your code is B-2 at Acme "Tools".',
        html: '<p>Yo <strong>Bob &lt;b&gt;&amp;co</strong>, code B-2 from Acme &quot;Tools&quot;</p>',
        to: 'bob@example.com',
        toName: '',
      },
      {
        subject: 'Hello Cyd, your code',
        text: 'Hello Cyd: your code is C-3 at Acme "Tools".',
        html: '<p>Hello <strong>Cyd</strong>, code C-3 from Acme &quot;Tools&quot;</p>',
        to: 'cyd@example.com',
        toName: '',
      },
    ];
    for (const [i, m] of messages.entries()) {
      const want = expected[i]!;
      const view = await http(testApp.url, 'GET', `/v2/messages/${m.id}`, { headers: key(tenant.apiKey) });
      assert.equal(view.status, 200);
      assert.equal(view.body.subject, want.subject);
      assert.equal(view.body.batchId, res.body.batch_id, 'one batch');
      const raw = await http(testApp.url, 'GET', `/v2/messages/${m.id}/raw`, { headers: key(tenant.apiKey) });
      assert.equal(raw.status, 200);
      const mail = await PostalMime.parse(raw.body as string);
      assert.equal(mail.subject, want.subject);
      assert.equal(mail.text?.trim(), want.text);
      assert.equal(mail.html?.trim(), want.html);
      assert.deepEqual(
        mail.to?.map((t) => [t.address, t.name]),
        [[want.to, want.toName]],
        'each message is addressed to its own recipient only',
      );
    }
  });

  it('refuses a batch with a missing variable: 400 VALIDATION_FAILED naming the recipient, nothing appended', async () => {
    const before = await eventCount(testApp);
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: {
        from: 'shop@sender.test',
        to: [
          { address: 'ann@example.com', variables: { name: 'Ann' } },
          { address: 'bob@example.com', variables: {} },
        ],
        subject: 'Hi {{name}}',
        text: 'Hello {{name}}',
      },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'VALIDATION_FAILED');
    assert.deepEqual(res.body.fields, [{ path: 'to[1].variables', message: 'has no value for {{name}}' }]);
    assert.equal(await eventCount(testApp), before);
  });

  it('refuses schema violations with field paths (no text/html, unknown field, duplicate recipient, bad address)', async () => {
    const noBody = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: { from: 'a@sender.test', to: ['b@example.com'], subject: 's' },
    });
    assert.equal(noBody.status, 400);
    assert.equal(noBody.body.code, 'VALIDATION_FAILED');
    assert.ok(
      noBody.body.fields.some((f: { path: string }) => f.path === 'body.text'),
      JSON.stringify(noBody.body.fields),
    );

    const unknown = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ priority: 'high' }),
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.code, 'VALIDATION_FAILED');

    const dup = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ to: ['x@example.com', 'X@Example.com'] }),
    });
    assert.equal(dup.status, 400);
    assert.deepEqual(
      dup.body.fields.map((f: { path: string }) => f.path),
      ['to[1]'],
    );

    const bad = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ to: ['ok@example.com', 'not-an-address'] }),
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      bad.body.fields.map((f: { path: string }) => f.path),
      ['to[1]'],
    );
  });

  it('Idempotency-Key: the same request is answered again without appending, a different body is refused with 409', async () => {
    const body = basic({ to: ['idem1@example.com', 'idem2@example.com'], subject: 'Once only' });
    const headers = { ...key(tenant.apiKey), 'idempotency-key': 'order-1001' };
    const first = await http(testApp.url, 'POST', '/v2/messages', { headers, body });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.equal(first.headers.get('idempotent-replayed'), null);
    const ids = messagesOf(first.body).map((m) => m.id);
    assert.equal(ids.length, 2);
    const afterFirst = await eventCount(testApp);

    const second = await http(testApp.url, 'POST', '/v2/messages', { headers, body });
    assert.equal(second.status, 202);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(second.body, first.body, 'the same answer: same batch, ids and tokens');
    assert.equal(await eventCount(testApp), afterFirst, 'nothing appended by the replay');
    for (const id of ids) {
      const history = await http(testApp.url, 'GET', `/v2/messages/${id}/history`, { headers: key(tenant.apiKey) });
      assert.equal(history.status, 200);
      assert.deepEqual(
        history.body.events.map((e: { type: string }) => e.type),
        ['MessageAccepted', 'MessageQueued'],
      );
    }

    const changed = await http(testApp.url, 'POST', '/v2/messages', { headers, body: { ...body, subject: 'Twice?' } });
    assert.equal(changed.status, 409);
    assert.equal(changed.body.code, 'IDEMPOTENCY_KEY_REUSED');
    assert.equal(await eventCount(testApp), afterFirst);

    // keys belong to a server: another server may use the same key for its own request
    const other = await createTenant(testApp.app, { domain: 'other-sender.test' });
    const elsewhere = await http(testApp.url, 'POST', '/v2/messages', {
      headers: { ...key(other.apiKey), 'idempotency-key': 'order-1001' },
      body: { ...body, from: 'hello@other-sender.test' },
    });
    assert.equal(elsewhere.status, 202, JSON.stringify(elsewhere.body));
    assert.equal(elsewhere.headers.get('idempotent-replayed'), null);
    assert.notDeepEqual(
      messagesOf(elsewhere.body).map((m) => m.id),
      ids,
    );
  });

  it('Idempotency-Key after a crash between append and answer: 409 while fresh, then resumed with the same ids and nothing appended twice', async () => {
    const body = basic({ to: ['crash1@example.com', 'crash2@example.com'], subject: 'Crash test' });
    const headers = { ...key(tenant.apiKey), 'idempotency-key': 'crash-1' };
    const first = await http(testApp.url, 'POST', '/v2/messages', { headers, body });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const afterFirst = await eventCount(testApp);
    // as if the process died after the append but before it stored the answer
    const reset = await testApp.db.pool.query(
      'UPDATE idempotency_keys SET completed_at = NULL, status_code = NULL, response = NULL WHERE server_id = $1 AND key = $2',
      [tenant.server.id, 'crash-1'],
    );
    assert.equal(reset.rowCount, 1);

    const whileFresh = await http(testApp.url, 'POST', '/v2/messages', { headers, body });
    assert.equal(whileFresh.status, 409);
    assert.equal(whileFresh.body.code, 'IDEMPOTENCY_IN_PROGRESS');

    await testApp.db.pool.query(
      "UPDATE idempotency_keys SET created_at = now() - interval '5 minutes' WHERE server_id = $1 AND key = $2",
      [tenant.server.id, 'crash-1'],
    );
    const resumed = await http(testApp.url, 'POST', '/v2/messages', { headers, body });
    assert.equal(resumed.status, 202, JSON.stringify(resumed.body));
    assert.deepEqual(resumed.body, first.body, 'same batch, ids and tokens as the first answer');
    assert.equal(await eventCount(testApp), afterFirst, 'the re-append was idempotent');

    const replay = await http(testApp.url, 'POST', '/v2/messages', { headers, body });
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(replay.body, first.body);
  });

  it('Idempotency-Key of a refused request is released: a corrected retry with the same key is accepted', async () => {
    const headers = { ...key(tenant.apiKey), 'idempotency-key': 'retry-after-fix' };
    const refused = await http(testApp.url, 'POST', '/v2/messages', {
      headers,
      body: basic({ from: 'hello@unknown-domain.test' }),
    });
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    const fixed = await http(testApp.url, 'POST', '/v2/messages', {
      headers,
      body: basic({ to: ['fixed@example.com'] }),
    });
    assert.equal(fixed.status, 202, JSON.stringify(fixed.body));
    assert.equal(only(messagesOf(fixed.body)).to, 'fixed@example.com');
  });

  it('send_at in the future: MessageQueued is due then, and the view shows the schedule', async () => {
    const due = new Date(Math.floor(Date.now() / 1000) * 1000 + 3 * 3600_000);
    // given with an offset, stored in UTC
    const offsetForm = new Date(due.getTime() + 2 * 3600_000).toISOString().replace(/\.000Z$/, '+02:00');
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ to: ['later@example.com'], send_at: offsetForm }),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const m = only(messagesOf(res.body));
    assert.equal(m.status, 'queued');
    const history = await http(testApp.url, 'GET', `/v2/messages/${m.id}/history`, { headers: key(tenant.apiKey) });
    assert.equal(history.status, 200);
    assert.equal(history.body.stream, `message-${m.id}`);
    const events = history.body.events as {
      type: string;
      data: Record<string, unknown>;
      revision: number;
      metadata: Record<string, unknown>;
    }[];
    assert.deepEqual(
      events.map((e) => e.type),
      ['MessageAccepted', 'MessageQueued'],
    );
    assert.equal(events[0]!.data.scheduledAt, due.toISOString());
    assert.equal(events[1]!.data.dueAt, due.toISOString());
    assert.equal(events[1]!.metadata.serverId, tenant.server.id);
    assert.equal(events[1]!.metadata.actor, 'api');
    const view = await http(testApp.url, 'GET', `/v2/messages/${m.id}`, { headers: key(tenant.apiKey) });
    assert.equal(view.body.scheduledAt, due.toISOString());
    assert.equal(view.body.nextAttemptAt, due.toISOString());

    const tooFar = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ send_at: new Date(Date.now() + 31 * 86_400_000).toISOString() }),
    });
    assert.equal(tooFar.status, 400);
    assert.ok(
      tooFar.body.fields.some((f: { path: string }) => f.path === 'body.send_at'),
      JSON.stringify(tooFar.body),
    );
  });

  it('refuses a custom header with CR/LF (header injection), naming headers.<name>', async () => {
    const before = await eventCount(testApp);
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ headers: { 'X-Campaign': 'spring', 'X-Evil': 'a\r\nBcc: victim@example.com' } }),
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'VALIDATION_FAILED');
    assert.equal(only(res.body.fields as { path: string }[]).path, 'headers.X-Evil');
    const lf = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ headers: { 'X-Lf': 'a\nb' } }),
    });
    assert.equal(lf.status, 400);
    assert.equal(only(lf.body.fields as { path: string }[]).path, 'headers.X-Lf');
    assert.equal(await eventCount(testApp), before);

    const fine = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ to: ['hdr@example.com'], headers: { 'X-Campaign': 'spring' } }),
    });
    assert.equal(fine.status, 202);
    const raw = await http(testApp.url, 'GET', `/v2/messages/${only(messagesOf(fine.body)).id}/raw`, {
      headers: key(tenant.apiKey),
    });
    assert.match(raw.body as string, /^X-Campaign: spring\r$/m);
  });

  it('refuses to override headers Postlog owns', async () => {
    for (const name of ['Message-ID', 'DKIM-Signature', 'message-id', 'Return-Path', 'X-Postlog-Server']) {
      const res = await http(testApp.url, 'POST', '/v2/messages', {
        headers: key(tenant.apiKey),
        body: basic({ headers: { [name]: 'x' } }),
      });
      assert.equal(res.status, 400, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'VALIDATION_FAILED');
      assert.equal(only(res.body.fields as { path: string }[]).path, `headers.${name}`);
      assert.match(res.body.fields[0].message, /cannot be overridden/);
    }
  });

  it('refuses a From address on an unknown or unverified domain with 422, appending nothing', async () => {
    const unverified = await testApp.app.tenancy.createDomain(systemActor('t'), tenant.server.id, {
      name: 'unverified.test',
      verified: false,
      ed25519: false,
    });
    assert.ok(unverified.ok);
    for (const from of ['hello@unknown.test', 'hello@unverified.test', 'hello@sub.sender.test']) {
      const before = await eventCount(testApp);
      const res = await http(testApp.url, 'POST', '/v2/messages', {
        headers: key(tenant.apiKey),
        body: basic({ from }),
      });
      assert.equal(res.status, 422, `${from}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'UNAUTHENTICATED_FROM_ADDRESS');
      assert.deepEqual(
        res.body.fields.map((f: { path: string }) => f.path),
        ['from'],
      );
      assert.equal(await eventCount(testApp), before, `nothing appended for ${from}`);
    }
    // the domain of another server does not count either
    const other = await createTenant(testApp.app, { domain: 'someone-else.test' });
    assert.ok(other.server.id);
    const foreign = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ from: 'ceo@someone-else.test' }),
    });
    assert.equal(foreign.status, 422);
    // the domain part of From is case-insensitive
    const upper = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ from: 'hello@SENDER.test', to: ['case@example.com'] }),
    });
    assert.equal(upper.status, 202, JSON.stringify(upper.body));
  });

  it('holds every message of a development-mode server', async () => {
    const dev = await createTenant(testApp.app, { mode: 'development', domain: 'dev.test' });
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(dev.apiKey),
      body: basic({ from: 'app@dev.test', to: ['d1@example.com', 'd2@example.com'] }),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const messages = messagesOf(res.body);
    assert.deepEqual(
      messages.map((m) => [m.status, m.held_reason]),
      [
        ['held', 'development_mode'],
        ['held', 'development_mode'],
      ],
    );
    const view = await http(testApp.url, 'GET', `/v2/messages/${messages[0]!.id}`, { headers: key(dev.apiKey) });
    assert.equal(view.body.status, 'held');
    assert.equal(view.body.heldReason, 'the server is in development mode');
    assert.equal(view.body.nextAttemptAt, null);
    assert.equal(typeof view.body.timestamps.heldAt, 'string');
    const history = await http(testApp.url, 'GET', `/v2/messages/${messages[0]!.id}/history`, {
      headers: key(dev.apiKey),
    });
    assert.deepEqual(
      history.body.events.map((e: { type: string }) => e.type),
      ['MessageAccepted', 'MessageHeld'],
    );
  });

  it('holds a message to a suppressed recipient (matched case-insensitively), and only that one', async () => {
    await testApp.db.pool.query('INSERT INTO suppressions (server_id, address, reason) VALUES ($1, $2, $3)', [
      tenant.server.id,
      'blocked@example.com',
      'hard_bounce',
    ]);
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ to: ['Blocked@Example.com', 'open@example.com'] }),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const [blocked, open] = messagesOf(res.body);
    assert.equal(blocked?.status, 'held');
    assert.equal(blocked?.held_reason, 'suppressed');
    assert.equal(open?.status, 'queued');
    const view = await http(testApp.url, 'GET', `/v2/messages/${blocked!.id}`, { headers: key(tenant.apiKey) });
    assert.equal(view.body.status, 'held');
    assert.notEqual(view.body.heldReason, null);
    assert.match(view.body.heldReason, /suppression list \(hard_bounce\)/);

    // the suppression is per server: another server sends to the address normally
    const other = await createTenant(testApp.app, { domain: 'free.test' });
    const elsewhere = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(other.apiKey),
      body: basic({ from: 'a@free.test', to: ['blocked@example.com'] }),
    });
    assert.equal(only(messagesOf(elsewhere.body)).status, 'queued');
  });

  it('gives Cc and Bcc recipients of a single-recipient message their own message id, and writes no Bcc header', async () => {
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ to: ['main@example.com'], cc: ['copy@example.com'], bcc: ['hidden@example.com'] }),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const messages = messagesOf(res.body);
    assert.deepEqual(
      messages.map((m) => m.to),
      ['main@example.com', 'copy@example.com', 'hidden@example.com'],
    );
    for (const m of messages) {
      const raw = await http(testApp.url, 'GET', `/v2/messages/${m.id}/raw`, { headers: key(tenant.apiKey) });
      assert.equal(raw.status, 200);
      assert.doesNotMatch(raw.body as string, /hidden@example\.com/);
      assert.match(raw.body as string, /^Cc: copy@example\.com\r$/m);
    }
    const batch = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ to: ['a1@example.com', 'a2@example.com'], cc: ['c@example.com'] }),
    });
    assert.equal(batch.status, 400);
    assert.ok(batch.body.fields.some((f: { path: string }) => f.path === 'body.cc'));
  });

  it('puts a header-injection attempt through a variable into no header of its own', async () => {
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({
        to: [{ address: 'inj@example.com', variables: { name: 'x\r\nBcc: victim@evil.test' } }],
        subject: 'Hi {{name}}',
      }),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const raw = await http(testApp.url, 'GET', `/v2/messages/${only(messagesOf(res.body)).id}/raw`, {
      headers: key(tenant.apiKey),
    });
    assert.doesNotMatch(raw.body as string, /^Bcc:/im);
  });

  it('validates reply_to as an address, like from, cc and bcc', async () => {
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ reply_to: 'not an address' }),
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.code, 'VALIDATION_FAILED');
    assert.deepEqual(
      res.body.fields.map((f: { path: string }) => f.path),
      ['reply_to'],
    );
  });

  it('authentication: no key 401 UNAUTHENTICATED, a wrong key 401 INVALID_API_KEY, an admin token is no API key', async () => {
    const none = await http(testApp.url, 'POST', '/v2/messages', { body: basic() });
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'UNAUTHENTICATED');
    const wrong = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key('not-a-real-key-0123456789'),
      body: basic(),
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.code, 'INVALID_API_KEY');
    const wrongBearer = await http(testApp.url, 'POST', '/v2/messages', {
      headers: bearer('not-a-real-key-0123456789'),
      body: basic(),
    });
    assert.equal(wrongBearer.status, 401);
    assert.equal(wrongBearer.body.code, 'INVALID_API_KEY');
    const admin = await http(testApp.url, 'POST', '/v2/messages', {
      headers: bearer(tenant.adminToken),
      body: basic(),
    });
    assert.equal(admin.status, 401);
    assert.equal(admin.body.code, 'UNAUTHENTICATED');
    const readNone = await http(testApp.url, 'GET', '/v2/messages/1');
    assert.equal(readNone.status, 401);
    assert.equal(readNone.body.code, 'UNAUTHENTICATED');
  });

  it('a suspended server gets 403 SERVER_SUSPENDED, with the reason', async () => {
    const s = await createTenant(testApp.app, { domain: 'suspended.test' });
    // suspended before its key is ever used, so no cached answer is in the way
    const updated = await testApp.app.tenancy.updateServer(systemActor('t'), s.server.id, {
      suspended: true,
      suspendedReason: 'unpaid invoice',
    });
    assert.ok(updated.ok && updated.value.suspended);
    const before = await eventCount(testApp);
    const res = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(s.apiKey),
      body: basic({ from: 'a@suspended.test' }),
    });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.code, 'SERVER_SUSPENDED');
    assert.match(res.body.message, /unpaid invoice/);
    assert.equal(await eventCount(testApp), before);
  });

  it("tenant isolation: another server's key and another organization's admin get 404; the own organization's admin reads it", async () => {
    const a = await createTenant(testApp.app, { domain: 'a-corp.test' });
    const b = await createTenant(testApp.app, { domain: 'b-corp.test' });
    const sent = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(a.apiKey),
      body: basic({ from: 'x@a-corp.test', to: ['secret@example.com'], subject: 'A only' }),
    });
    assert.equal(sent.status, 202);
    const id = only(messagesOf(sent.body)).id;
    const paths = [`/v2/messages/${id}`, `/v2/messages/${id}/history`, `/v2/messages/${id}/raw`];

    for (const path of paths) {
      const byB = await http(testApp.url, 'GET', path, { headers: key(b.apiKey) });
      assert.equal(byB.status, 404, `${path} with B's key`);
      assert.equal(byB.body.code, 'MESSAGE_NOT_FOUND');
      assert.doesNotMatch(JSON.stringify(byB.body), /secret@example|A only/);
      const byOtherAdmin = await http(testApp.url, 'GET', path, { headers: bearer(b.adminToken) });
      assert.equal(byOtherAdmin.status, 404, `${path} with B's admin token`);
      assert.equal(byOtherAdmin.body.code, 'MESSAGE_NOT_FOUND');

      const byA = await http(testApp.url, 'GET', path, { headers: key(a.apiKey) });
      assert.equal(byA.status, 200, `${path} with A's key`);
      const byAdmin = await http(testApp.url, 'GET', path, { headers: bearer(a.adminToken) });
      assert.equal(byAdmin.status, 200, `${path} with A's admin token`);
    }
    const view = await http(testApp.url, 'GET', `/v2/messages/${id}`, { headers: bearer(a.adminToken) });
    assert.equal(view.body.subject, 'A only');
    assert.equal(view.body.serverId, a.server.id);

    const global = await testApp.app.tenancy.createAdminToken(systemActor('t'), {
      name: 'global',
      organizationId: null,
    });
    assert.ok(global.ok);
    const byGlobal = await http(testApp.url, 'GET', `/v2/messages/${id}`, { headers: bearer(global.value.secret) });
    assert.equal(byGlobal.status, 200);
    const badAdmin = await http(testApp.url, 'GET', `/v2/messages/${id}`, { headers: bearer('plt_not-a-token') });
    assert.equal(badAdmin.status, 401);
    assert.equal(badAdmin.body.code, 'INVALID_ADMIN_TOKEN');
  });

  it('answers 404 for a message that does not exist and 400 for an id that is not a number', async () => {
    const missing = await http(testApp.url, 'GET', '/v2/messages/999999999', { headers: key(tenant.apiKey) });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'MESSAGE_NOT_FOUND');
    const notNumeric = await http(testApp.url, 'GET', '/v2/messages/abc', { headers: key(tenant.apiKey) });
    assert.equal(notNumeric.status, 400);
    assert.equal(notNumeric.body.code, 'VALIDATION_FAILED');
  });

  it('GET /docs/json serves an OpenAPI document with the send and read routes', async () => {
    const res = await http(testApp.url, 'GET', '/docs/json');
    assert.equal(res.status, 200);
    assert.match(String(res.body.openapi), /^3\./);
    assert.equal(res.body.info.title, 'Postlog API');
    assert.ok(res.body.paths['/v2/messages'], Object.keys(res.body.paths).join(', '));
    assert.ok(res.body.paths['/v2/messages'].post.requestBody, 'the send body is documented');
    assert.ok(res.body.paths['/v2/messages/{id}']?.get);
    assert.ok(res.body.paths['/v2/messages/{id}/history']?.get);
    assert.ok(res.body.components.securitySchemes.apiKey);
  });
});

describe('POST /v2/messages: message size limit', () => {
  let testApp: TestApp;
  let tenant: Tenant;

  before(async () => {
    testApp = await startTestApp({ POSTLOG_MAX_MESSAGE_BYTES: '2048' });
    tenant = await createTenant(testApp.app);
  });
  after(async () => {
    await testApp?.stop();
  });

  it('refuses a message whose MIME exceeds the limit with 413 MESSAGE_TOO_LARGE and appends nothing', async () => {
    const small = await http(testApp.url, 'POST', '/v2/messages', { headers: key(tenant.apiKey), body: basic() });
    assert.equal(small.status, 202, 'a small message fits');
    const before = await eventCount(testApp);
    const big = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(tenant.apiKey),
      body: basic({ text: 'lorem ipsum '.repeat(400) }),
    });
    assert.equal(big.status, 413, JSON.stringify(big.body));
    assert.equal(big.body.code, 'MESSAGE_TOO_LARGE');
    assert.match(big.body.message, /the limit is 2048/);
    assert.equal(await eventCount(testApp), before);
  });
});

describe('POST /v2/messages: rate limit', () => {
  let testApp: TestApp;
  let tenant: Tenant;

  before(async () => {
    testApp = await startTestApp({ POSTLOG_API_RATE_LIMIT: '3' });
    tenant = await createTenant(testApp.app);
  });
  after(async () => {
    await testApp?.stop();
  });

  it('answers 429 RATE_LIMITED with retry-after beyond the per-key rate', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        http(testApp.url, 'POST', '/v2/messages', {
          headers: key(tenant.apiKey),
          body: basic({ to: [`r${i}@example.com`] }),
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    const limited = results.filter((r) => r.status === 429);
    assert.ok(limited.length >= 4, `some were limited: ${statuses.join(',')}`);
    assert.ok(
      statuses.every((s) => s === 202 || s === 429),
      statuses.join(','),
    );
    const accepted = statuses.filter((s) => s === 202).length;
    assert.ok(accepted >= 1 && accepted <= 6, `at most the limit per one-second window: ${statuses.join(',')}`);
    for (const r of limited) {
      assert.equal(r.body.code, 'RATE_LIMITED');
      const retryAfter = r.headers.get('retry-after');
      assert.match(retryAfter ?? '', /^\d+$/, `retry-after: ${retryAfter}`);
      assert.ok(Number(retryAfter) <= 1, `retry-after ${retryAfter} s is within the one-second window`);
      assert.equal(r.headers.get('x-ratelimit-limit'), '3');
    }
    // the limit is per key: another server is not affected by this one's burst
    const other = await createTenant(testApp.app, { domain: 'calm.test' });
    const calm = await http(testApp.url, 'POST', '/v2/messages', {
      headers: key(other.apiKey),
      body: basic({ from: 'a@calm.test' }),
    });
    assert.equal(calm.status, 202, JSON.stringify(calm.body));
  });
});
