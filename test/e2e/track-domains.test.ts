/**
 * Track domains: the management API, the CNAME check against a real DNS server (dnsmasq), links of
 * a domain's messages on its verified track domain, and the tracking endpoints answering there.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import PostalMime from 'postal-mime';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { dnsmasqAvailable, startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/ports.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed';
const HTML = '<html><body><a href="https://shop.example.com/offer">Offer</a></body></html>';

/** A GET to Postlog's port with the Host header a recipient's browser sends for a track domain. */
function getWithHost(port: number, url: string, host: string): Promise<{ status: number; location?: string }> {
  const { pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, headers: { host } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, ...(res.headers.location ? { location: res.headers.location } : {}) });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('track domains', { skip }, () => {
  let t: TestApp;
  let a: Tenant;
  let dns: DnsServer;
  let sink: SmtpSink;
  let port = 0;
  let admin = '';
  let domainId = '';
  const api = (method: string, path: string, body?: unknown) =>
    http(t.url, method, path, { headers: { authorization: `Bearer ${admin}` }, ...(body ? { body } : {}) });
  /** The tracked link of a send/raw message to `to`, once the receiving server has it. */
  const linkOfRawMessage = async (to: string) => {
    const raw = Buffer.from(
      `From: app@a.test\r\nTo: ${to}\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${HTML}\r\n`,
    );
    const res = await http(t.url, 'POST', '/api/v1/send/raw', {
      headers: { 'X-Server-API-Key': a.apiKey },
      body: { mail_from: 'app@a.test', rcpt_to: [to], data: raw.toString('base64') },
    });
    assert.equal(res.body.status, 'success', JSON.stringify(res.body));
    const deadline = Date.now() + 15_000;
    while (!sink.received.some((m) => m.to.includes(to)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const email = await PostalMime.parse(sink.received.find((m) => m.to.includes(to))!.raw);
    return { id: String(res.body.data.messages[to].id), link: /href="([^"]+\/t\/c\/[^"]+)"/.exec(email.html!)![1]! };
  };

  before(async () => {
    port = await freePort();
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.14', sinkPort, { tls: false });
    // the test app's hostname is postlog.test: track domains point at track.postlog.test
    dns = await startDnsServer({
      a: [
        ['track.postlog.test', '127.0.0.1'],
        ['elsewhere.test', '127.0.0.2'],
      ],
      cname: [
        ['click.a.test', 'track.postlog.test'],
        ['links.a.test', 'elsewhere.test'],
      ],
    });
    t = await startTestApp({
      POSTLOG_HTTP_PORT: String(port),
      POSTLOG_PUBLIC_URL: `http://127.0.0.1:${port}`,
      POSTLOG_ROLES: 'api,mta,projector,tracking',
      POSTLOG_DNS_SERVERS: dns.address,
      POSTLOG_DATA_DIR: tempDataDir('postlog-track-domains-'),
      POSTLOG_SMART_HOST: `127.0.0.14:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
    });
    a = await createTenant(t.app, { domain: 'a.test' });
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), {
      name: 'org',
      organizationId: a.organizationId,
    });
    if (!token.ok) throw new Error(JSON.stringify(token.error));
    admin = token.value.secret;
    const domains = await api('GET', `/v2/servers/${a.server.id}/domains`);
    domainId = domains.body.domains[0].id;
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
    await dns?.stop();
  });

  it('adds a track domain, names the CNAME to publish, and refuses a second one or a bad label', async () => {
    const created = await api('POST', `/v2/domains/${domainId}/track-domains`, { name: 'Click', https: false });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.name, 'click.a.test');
    assert.equal(created.body.verified, false);
    assert.equal(created.body.baseUrl, 'http://click.a.test');
    assert.deepEqual(created.body.dnsRecord, { type: 'CNAME', name: 'click.a.test', value: 'track.postlog.test' });
    const again = await api('POST', `/v2/domains/${domainId}/track-domains`, { name: 'other' });
    assert.equal(again.status, 409);
    const bad = await api('POST', `/v2/domains/${domainId}/track-domains`, { name: 'a.b' });
    assert.equal(bad.status, 400);
    const list = await api('GET', `/v2/domains/${domainId}/track-domains`);
    assert.deepEqual(
      list.body.trackDomains.map((d: { name: string }) => d.name),
      ['click.a.test'],
    );
    const audit = await api('GET', '/v2/audit');
    assert.ok(audit.body.entries.some((e: { entityType: string }) => e.entityType === 'track-domain'));
  });

  it('uses the track domain for links only once its CNAME is found, and the click endpoint answers on it', async () => {
    const [trackDomain] = (await api('GET', `/v2/domains/${domainId}/track-domains`)).body.trackDomains;
    const unverified = await linkOfRawMessage('before@example.org');
    assert.ok(unverified.link.startsWith(`http://127.0.0.1:${port}/t/c/`), unverified.link);

    const check = await api('POST', `/v2/domains/${domainId}/track-domains/${trackDomain.id}/check`);
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.equal(check.body.verified, true);
    assert.deepEqual(check.body.check.found, ['track.postlog.test']);
    assert.equal(typeof check.body.trackDomain.verifiedAt, 'string');

    const { id, link } = await linkOfRawMessage('after@example.org');
    assert.ok(link.startsWith('http://click.a.test/t/c/'), link);
    // the JSON API's links too
    const v2 = await http(t.url, 'POST', '/v2/messages', {
      headers: { 'X-Server-API-Key': a.apiKey },
      body: { from: 'app@a.test', to: ['json@example.org'], subject: 'x', html: HTML },
    });
    assert.equal(v2.status, 202, JSON.stringify(v2.body));

    const click = await getWithHost(port, link, 'click.a.test');
    assert.deepEqual(click, { status: 302, location: 'https://shop.example.com/offer' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const history = await http(t.url, 'GET', `/v2/messages/${id}/history`, {
        headers: { 'X-Server-API-Key': a.apiKey },
      });
      if (history.body.events.some((e: { type: string }) => e.type === 'MessageLinkClicked')) break;
      assert.ok(Date.now() < deadline, 'the click is recorded');
      await new Promise((r) => setTimeout(r, 50));
    }
    const deadline2 = Date.now() + 15_000;
    while (!sink.received.some((m) => m.to.includes('json@example.org')) && Date.now() < deadline2)
      await new Promise((r) => setTimeout(r, 50));
    const json = await PostalMime.parse(sink.received.find((m) => m.to.includes('json@example.org'))!.raw);
    assert.match(json.html!, /href="http:\/\/click\.a\.test\/t\/c\//);
  });

  it('reports a CNAME that points elsewhere, and stops using a track domain whose CNAME is gone', async () => {
    const other = await createTenant(t.app, { domain: 'a.test' });
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), {
      name: 'other',
      organizationId: other.organizationId,
    });
    assert.ok(token.ok);
    const headers = { authorization: `Bearer ${token.value.secret}` };
    const domains = await http(t.url, 'GET', `/v2/servers/${other.server.id}/domains`, { headers });
    const otherDomain = domains.body.domains[0].id;
    const created = await http(t.url, 'POST', `/v2/domains/${otherDomain}/track-domains`, {
      headers,
      body: { name: 'links' },
    });
    assert.equal(created.status, 201);
    const check = await http(t.url, 'POST', `/v2/domains/${otherDomain}/track-domains/${created.body.id}/check`, {
      headers,
    });
    assert.equal(check.body.verified, false);
    assert.deepEqual(check.body.check, {
      purpose: 'track-domain',
      name: 'links.a.test',
      expected: 'track.postlog.test',
      found: ['elsewhere.test'],
      ok: false,
    });
    // another organization's track domain is not visible
    const foreign = await api('GET', `/v2/domains/${otherDomain}/track-domains/${created.body.id}`);
    assert.equal(foreign.status, 404);

    // the first tenant's track domain removed: links go back to Postlog's address
    const [mine] = (await api('GET', `/v2/domains/${domainId}/track-domains`)).body.trackDomains;
    assert.equal((await api('DELETE', `/v2/domains/${domainId}/track-domains/${mine.id}`)).status, 204);
    const { link } = await linkOfRawMessage('removed@example.org');
    assert.ok(link.startsWith(`http://127.0.0.1:${port}/t/c/`), link);
  });
});
