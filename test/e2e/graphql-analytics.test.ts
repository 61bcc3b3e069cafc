import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

type Gql = {
  status: number;
  body: { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] };
};

describe('analytics over GraphQL: send, deliver, open and click, then ask /graphql', () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  let sink: SmtpSink;
  let messageId = '';
  const human =
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
  const gql = async (
    headers: Record<string, string>,
    query: string,
    variables: Record<string, unknown> = {},
  ): Promise<Gql> => http(t.url, 'POST', '/graphql', { body: { query, variables }, headers }) as Promise<Gql>;
  const key = (x: Tenant) => ({ 'X-Server-API-Key': x.apiKey });
  const admin = (x: Tenant) => ({ authorization: `Bearer ${x.adminToken}` });
  const FUNNEL = `accepted delivered bounced deferred failed
    opened { total unique human { total unique } machine { total unique } }
    clicked { total unique human { total unique } machine { total unique } }`;
  const empty = { total: 0, unique: 0, human: { total: 0, unique: 0 }, machine: { total: 0, unique: 0 } };
  const expected = {
    accepted: 1,
    delivered: 1,
    bounced: 0,
    deferred: 0,
    failed: 0,
    opened: { total: 2, unique: 1, human: { total: 1, unique: 1 }, machine: { total: 1, unique: 1 } },
    // a click within seconds of delivery is a link scanner's
    clicked: { total: 1, unique: 1, human: { total: 0, unique: 0 }, machine: { total: 1, unique: 1 } },
  };

  before(async () => {
    const port = await freePort();
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.12', sinkPort, { tls: false });
    t = await startTestApp({
      POSTLOG_HTTP_PORT: String(port),
      POSTLOG_PUBLIC_URL: `http://127.0.0.1:${port}`,
      POSTLOG_ROLES: 'api,mta,projector,tracking,graphql',
      POSTLOG_DATA_DIR: tempDataDir('postlog-graphql-'),
      POSTLOG_SMART_HOST: `127.0.0.12:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
    });
    a = await createTenant(t.app, { domain: 'a.test' });
    b = await createTenant(t.app, { domain: 'b.test' });

    // send through the real API, let the MTA deliver it to the sink, then open and click through the tracking endpoints
    const html = '<html><body><p>Hi</p><a href="https://shop.example.com/launch?x=1">Launch</a></body></html>';
    const sent = await http(t.url, 'POST', '/v2/messages', {
      body: { from: 'app@a.test', to: ['reader@example.org'], subject: 'Launch', html, tag: 'launch' },
      headers: key(a),
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    messageId = String(sent.body.messages[0].id);
    const raw = await eventually(
      async () => sink.received.find((m) => m.to.includes('reader@example.org'))?.raw,
      () => 'the sink got no message',
    );
    const email = await PostalMime.parse(raw);
    const pixel = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(email.html!)![1]!;
    const link = /href="([^"]+\/t\/c\/[^"]+)"/.exec(email.html!)![1]!.replace(/&amp;/g, '&');
    assert.equal((await fetch(pixel, { headers: { 'user-agent': human } })).status, 200);
    assert.equal((await fetch(pixel, { headers: { 'user-agent': 'Mozilla/5.0' } })).status, 200); // Apple Mail Privacy Protection
    assert.equal((await fetch(link, { redirect: 'manual', headers: { 'user-agent': human } })).status, 302);
    // the projection catches up with the log
    await eventually(
      async () => {
        const res = await gql(key(a), `{ funnel { opened { total } clicked { total } } }`);
        return res.body.data?.funnel.opened.total === 2 && res.body.data.funnel.clicked.total === 1 ? true : undefined;
      },
      () => 'the analytics never showed the opens and the click',
    );
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
  });

  it('answers every report for the server of the API key', async () => {
    const res = await gql(
      key(a),
      `query($id: ID!) {
        funnel { ${FUNNEL} }
        timeSeries(bucket: DAY, timeZone: "Europe/Paris") { start local counts { accepted delivered opened { unique } } }
        byProvider: breakdown(by: MAILBOX_PROVIDER, orderBy: DELIVERED) { key counts { delivered accepted } }
        byTag: breakdown(by: TAG, limit: 5) { key counts { accepted } }
        topLinks(limit: 5) { url clicks { total unique machine { total } } }
        messageEngagement(messageId: $id) { messageId serverId opened { total unique } clicked { total } firstOpenedAt links { url clicks { total } } }
      }`,
      { id: messageId },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.errors, undefined, JSON.stringify(res.body.errors));
    const d = res.body.data;
    assert.deepEqual(d.funnel, expected);
    assert.equal(d.timeSeries.length, 1);
    assert.deepEqual(d.timeSeries[0].counts, { accepted: 1, delivered: 1, opened: { unique: 1 } });
    assert.match(d.timeSeries[0].local, /^\d{4}-\d\d-\d\dT00:00:00$/);
    // the smart host took the message: it is the "provider" (an IP literal is its own)
    assert.deepEqual(d.byProvider, [
      { key: '127.0.0.12', counts: { delivered: 1, accepted: 0 } },
      { key: null, counts: { delivered: 0, accepted: 1 } },
    ]);
    assert.deepEqual(d.byTag, [{ key: 'launch', counts: { accepted: 1 } }]);
    assert.deepEqual(d.topLinks, [
      { url: 'https://shop.example.com/launch?x=1', clicks: { total: 1, unique: 1, machine: { total: 1 } } },
    ]);
    assert.equal(d.messageEngagement.messageId, messageId);
    assert.equal(d.messageEngagement.serverId, a.server.id);
    assert.deepEqual(
      [d.messageEngagement.opened, d.messageEngagement.clicked],
      [{ total: 2, unique: 1 }, { total: 1 }],
    );
    assert.deepEqual(d.messageEngagement.links, [{ url: 'https://shop.example.com/launch?x=1', clicks: { total: 1 } }]);
  });

  it("scopes by token: another server's key sees nothing; an organization admin sees its servers, one with serverId", async () => {
    const other = await gql(
      key(b),
      `query($id: ID!) { funnel { ${FUNNEL} } messageEngagement(messageId: $id) { messageId } }`,
      { id: messageId },
    );
    assert.deepEqual(other.body.data, {
      funnel: { accepted: 0, delivered: 0, bounced: 0, deferred: 0, failed: 0, opened: empty, clicked: empty },
      messageEngagement: null,
    });
    const probe = await gql(key(b), `query($s: ID) { funnel(serverId: $s) { accepted } }`, { s: a.server.id });
    assert.equal(probe.body.errors?.[0]?.extensions?.code, 'NOT_FOUND');
    assert.equal(probe.body.data, null);

    const org = await gql(
      admin(a),
      `query($s: ID) { all: funnel { ${FUNNEL} } one: funnel(serverId: $s) { accepted } }`,
      { s: a.server.id },
    );
    assert.deepEqual(org.body.data, { all: expected, one: { accepted: 1 } });
    const foreign = await gql(admin(a), `query($s: ID) { funnel(serverId: $s) { accepted } }`, { s: b.server.id });
    assert.equal(foreign.body.errors?.[0]?.extensions?.code, 'NOT_FOUND');
    const notUuid = await gql(admin(a), `{ funnel(serverId: "x' OR 1=1") { accepted } }`);
    assert.equal(notUuid.body.errors?.[0]?.extensions?.code, 'NOT_FOUND');

    const anonymous = await http(t.url, 'POST', '/graphql', { body: { query: '{ funnel { accepted } }' } });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.code, 'UNAUTHENTICATED');
    const wrong = await http(t.url, 'POST', '/graphql', {
      body: { query: '{ funnel { accepted } }' },
      headers: { 'X-Server-API-Key': 'nope' },
    });
    assert.equal(wrong.status, 401);
  });

  it('refuses bad arguments with BAD_USER_INPUT, and queries past the depth or cost limits before running them', async () => {
    const zone = await gql(key(a), `{ timeSeries(bucket: HOUR, timeZone: "Mars/Olympus_Mons") { start } }`);
    assert.equal(zone.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(zone.body.errors![0]!.message, /timeZone.*IANA/);
    const long = await gql(
      key(a),
      `{ timeSeries(bucket: MINUTE, from: "2026-01-01T00:00:00Z", to: "2026-01-10T00:00:00Z") { start } }`,
    );
    assert.equal(long.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(long.body.errors![0]!.message, /3 days of minutes/);
    const limit = await gql(key(a), `{ topLinks(limit: 100000) { url } }`);
    assert.equal(limit.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const huge = await gql(key(a), `{ messageEngagement(messageId: "9999999999999999999") { messageId } }`);
    assert.equal(huge.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    // not digits: a client error too, not an INTERNAL_SERVER_ERROR with a stack trace (BigInt() threw in a refinement)
    for (const id of ['abc', '1.5', '1e3', '', '-1']) {
      const bad = await gql(key(a), `query($id: ID!) { messageEngagement(messageId: $id) { messageId } }`, { id });
      assert.equal(
        bad.body.errors?.[0]?.extensions?.code,
        'BAD_USER_INPUT',
        `${id}: ${JSON.stringify(bad.body.errors)}`,
      );
      assert.match(bad.body.errors![0]!.message, /must be a message id/);
      assert.equal(bad.body.errors![0]!.extensions?.stacktrace, undefined);
    }
    const bucket = await gql(key(a), `{ timeSeries(bucket: SECOND) { start } }`);
    assert.match(bucket.body.errors?.[0]?.message ?? '', /SECOND/);

    const deep = await gql(key(a), `{ funnel { opened { human { total { a { b { c { d { e } } } } } } } } }`);
    assert.ok(
      deep.body.errors!.some((e) => e.extensions?.code === 'QUERY_TOO_DEEP'),
      JSON.stringify(deep.body.errors),
    );
    const aliases = Array.from({ length: 11 }, (_, i) => `f${i}: funnel { accepted }`).join(' ');
    const costly = await gql(key(a), `{ ${aliases} }`);
    assert.equal(costly.body.errors?.[0]?.extensions?.code, 'QUERY_TOO_COSTLY', JSON.stringify(costly.body.errors));
    assert.equal(costly.body.data, undefined, 'nothing ran');
    // nine reports are within the limit
    const nine = await gql(
      key(a),
      `{ ${Array.from({ length: 9 }, (_, i) => `f${i}: funnel { accepted }`).join(' ')} }`,
    );
    assert.equal(nine.body.data?.f8.accepted, 1);
  });

  it('serves GraphiQL outside production', async () => {
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /graphiql/i);
  });
});

describe('analytics over GraphQL in production: no GraphiQL, unexpected errors masked', () => {
  let t: TestApp;
  let a: Tenant;
  before(async () => {
    t = await startTestApp({ POSTLOG_ROLES: 'api,graphql', POSTLOG_ENVIRONMENT: 'production' });
    a = await createTenant(t.app);
  });
  after(async () => {
    await t?.stop();
  });

  it('masks a database failure and keeps the codes of user errors', async () => {
    const headers = { 'X-Server-API-Key': a.apiKey };
    const ok = await http(t.url, 'POST', '/graphql', { body: { query: '{ funnel { accepted } }' }, headers });
    assert.deepEqual(ok.body.data, { funnel: { accepted: 0 } });
    await t.db.pool.query('ALTER TABLE analytics_events RENAME TO analytics_events_gone');
    try {
      const res = await http(t.url, 'POST', '/graphql', { body: { query: '{ funnel { accepted } }' }, headers });
      assert.equal(res.body.errors?.[0]?.message, 'internal error; the request id is in the logs');
      assert.equal(res.body.errors?.[0]?.extensions?.code, 'INTERNAL_SERVER_ERROR');
      assert.doesNotMatch(JSON.stringify(res.body), /analytics_events|relation/);
    } finally {
      await t.db.pool.query('ALTER TABLE analytics_events_gone RENAME TO analytics_events');
    }
    const user = await http(t.url, 'POST', '/graphql', {
      body: { query: '{ timeSeries(bucket: DAY, timeZone: "Nowhere/Else") { start } }' },
      headers,
    });
    assert.equal(user.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 401, 'no GraphiQL page in production');
  });
});
