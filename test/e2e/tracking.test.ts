import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import PostalMime from 'postal-mime';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { freePort } from '../helpers/ports.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { tempDataDir } from '../helpers/postlog-process.js';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

describe('open and click tracking, bot-aware, and one-click unsubscribe', () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  let sink: SmtpSink;
  let dkimRecords: { name: string; value: string }[] = [];
  let inboundPort = 0;
  const key = (x: Tenant) => ({ 'X-Server-API-Key': x.apiKey });
  const events = async (x: Tenant, id: string) =>
    (await http(t.url, 'GET', `/v2/messages/${id}/history`, { headers: key(x) })).body.events as {
      type: string;
      data: Record<string, unknown>;
    }[];
  const waitFor = async (x: Tenant, id: string, type: string, count = 1) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = (await events(x, id)).filter((e) => e.type === type);
      if (found.length >= count) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} on message ${id}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /** Sends one HTML message and returns its id and the copy the receiving server got. */
  const sendAndReceive = async (x: Tenant, from: string, to: string, extra: Record<string, unknown> = {}) => {
    const html =
      '<html><body><p>Hi</p><a href="https://shop.example.com/offer?a=1&amp;b=2">Offer</a> <a href="mailto:help@example.com">Mail us</a> ' +
      '<a data-pl-notrack href="https://keep.example.com/raw">Raw</a> <a href="https://docs.excluded.example/x">Docs</a> <a href="#top">Top</a></body></html>';
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from, to: [to], subject: 'Tracked', html, text: 'Hi', ...extra },
      headers: key(x),
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.messages[0].id as string;
    await waitFor(x, id, 'MessageDelivered');
    const deadline = Date.now() + 10_000;
    while (!sink.received.some((m) => m.to.includes(to)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const raw = sink.received.find((m) => m.to.includes(to))!.raw;
    return { id, raw, email: await PostalMime.parse(raw) };
  };

  before(async () => {
    const port = await freePort();
    const sinkPort = await freePort();
    sink = await startSmtpSink('127.0.0.11', sinkPort, { tls: false });
    t = await startTestApp({
      POSTLOG_HTTP_PORT: String(port),
      POSTLOG_PUBLIC_URL: `http://127.0.0.1:${port}`,
      POSTLOG_ROLES: 'api,mta,projector,tracking,inbound',
      POSTLOG_INBOUND_PORT: String((inboundPort = await freePort())),
      POSTLOG_DATA_DIR: tempDataDir('postlog-tracking-'),
      POSTLOG_SMART_HOST: `127.0.0.11:${sinkPort}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      POSTLOG_MTA_POLL_MS: '50',
    });
    a = await createTenant(t.app, { domain: 'a.test' });
    b = await createTenant(t.app, { domain: 'b.test' });
    await t.app.tenancy.updateServer(systemActor('test'), a.server.id, {
      trackingExcludedDomains: ['excluded.example'],
      listUnsubscribe: true,
    });
    const domains = (await t.app.tenancy.listDomains(systemActor('test'), a.server.id)) as {
      ok: true;
      value: { dnsRecords: { purpose: string; name: string; value: string }[] }[];
    };
    dkimRecords = domains.value[0]!.dnsRecords.filter((r) => r.purpose === 'dkim');
  });
  after(async () => {
    await t?.stop();
    await sink?.close();
  });

  it('rewrites trackable links, adds an open pixel, and records opens and clicks with the machine flag', async () => {
    const { id, email } = await sendAndReceive(a, 'app@a.test', 'reader@example.org');
    const html = email.html!;
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    const tracked = hrefs.filter((h) => h.includes('/t/c/'));
    assert.equal(tracked.length, 1, 'only the offer link is tracked');
    assert.ok(hrefs.includes('mailto:help@example.com'));
    assert.ok(hrefs.includes('https://keep.example.com/raw'));
    assert.ok(hrefs.includes('https://docs.excluded.example/x'));
    assert.ok(hrefs.includes('#top'));
    const pixel = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(html)![1]!;

    const human =
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
    const open = await fetch(pixel, { headers: { 'user-agent': human } });
    assert.equal(open.status, 200);
    assert.equal(open.headers.get('content-type'), 'image/gif');
    assert.match(open.headers.get('cache-control') ?? '', /no-store/);
    assert.equal(
      Buffer.from(await open.arrayBuffer())
        .subarray(0, 6)
        .toString(),
      'GIF89a',
    );
    await fetch(pixel, { headers: { 'user-agent': 'Mozilla/5.0' } }); // Apple Mail Privacy Protection
    const opens = await waitFor(a, id, 'MessageOpened', 2);
    assert.deepEqual(
      opens.map((o) => o.data.machine),
      [false, true],
    );
    assert.equal(opens[0]!.data.userAgent, human);

    const click = await fetch(tracked[0]!, { redirect: 'manual', headers: { 'user-agent': human } });
    assert.equal(click.status, 302);
    assert.equal(click.headers.get('location'), 'https://shop.example.com/offer?a=1&b=2');
    const clicks = await waitFor(a, id, 'MessageLinkClicked');
    assert.equal(clicks[0]!.data.url, 'https://shop.example.com/offer?a=1&b=2');
    assert.equal(clicks[0]!.data.machine, true, 'a click within seconds of delivery is a scanner');
  });

  it('answers 404 and never redirects for forged, truncated, foreign or misused tokens', async () => {
    const { email } = await sendAndReceive(a, 'app@a.test', 'second@example.org');
    const link = [...email.html!.matchAll(/href="([^"]+\/t\/c\/[^"]+)"/g)][0]![1]!;
    const token = link.slice(link.lastIndexOf('/') + 1);
    const [payload, signature] = token.split('.') as [string, string];
    const base = `${t.url}/t/c/`;
    const forgedSig = `${payload}.${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, string>;
    const redirected = Buffer.from(JSON.stringify({ ...body, u: 'https://evil.example/phish' })).toString('base64url');
    const crossServer = Buffer.from(JSON.stringify({ ...body, s: b.server.id })).toString('base64url');
    const asOpen = Buffer.from(JSON.stringify({ ...body, k: 'o' })).toString('base64url');
    for (const bad of [
      forgedSig,
      `${redirected}.${signature}`,
      `${crossServer}.${signature}`,
      token.slice(0, 20),
      'garbage',
      `${payload}.`,
    ]) {
      const res = await fetch(base + bad, { redirect: 'manual' });
      assert.equal(res.status, 404, bad);
      assert.equal(res.headers.get('location'), null);
    }
    assert.equal((await fetch(`${t.url}/t/o/${token}`)).status, 404, 'a click token is not an open token');
    assert.equal((await fetch(`${t.url}/t/o/${asOpen}.${signature}`)).status, 404);
  });

  it('adds signed one-click unsubscribe headers; the POST unsubscribes and suppresses, without cookies or redirects', async () => {
    const { id, raw, email } = await sendAndReceive(a, 'app@a.test', 'leaving@example.org');
    const header = (name: string) => email.headers.find((h) => h.key === name)?.value ?? '';
    assert.equal(header('list-unsubscribe-post'), 'List-Unsubscribe=One-Click');
    const [, https, mailto] = /<(http[^>]+)>,\s*<(mailto:[^>]+)>/.exec(header('list-unsubscribe'))!;
    assert.match(mailto!, /^mailto:u-\d+-[A-Za-z0-9_-]{16}@psrp\.a\.test\?subject=unsubscribe$/);
    // an independent verifier accepts the signature, and it covers both headers
    const verdict = (await dkimVerify(raw, {
      resolver: async (name: string) => dkimRecords.filter((r) => r.name === name).map((r) => [r.value]),
    } as never)) as unknown as { results: { status: { result: string }; signingHeaders: { keys: string } }[] };
    assert.equal(verdict.results[0]!.status.result, 'pass');
    assert.match(verdict.results[0]!.signingHeaders.keys, /List-Unsubscribe: List-Unsubscribe-Post/);

    const page = await fetch(https!);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post"/);
    const post = await fetch(https!, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    assert.equal(post.status, 200);
    assert.equal(post.headers.get('set-cookie'), null);
    const unsub = await waitFor(a, id, 'MessageUnsubscribed');
    assert.equal(unsub[0]!.data.method, 'one-click');
    const list = await http(t.url, 'GET', '/v2/suppressions?address=leaving@example.org', { headers: key(a) });
    assert.equal(list.body.suppressions.length, 1);
    assert.equal(list.body.suppressions[0].expiresAt, null, 'an unsubscribe does not expire');
  });

  it('unsubscribes by mail too (the mailto: address), and refuses a forged one', async () => {
    const { id, email } = await sendAndReceive(a, 'app@a.test', 'mailer@example.org');
    const mailto = /<mailto:([^?>]+)/.exec(email.headers.find((h) => h.key === 'list-unsubscribe')!.value)![1]!;
    const deliver = async (rcpt: string) => {
      const c = new SMTPConnection({
        host: '127.0.0.1',
        port: inboundPort,
        ignoreTLS: true,
        allowInternalNetworkInterfaces: true,
        logger: false,
      });
      await new Promise<void>((res, rej) => {
        c.once('error', rej);
        c.connect(() => res());
      });
      const out = await new Promise<string>((res) =>
        c.send({ from: 'mailer@example.org', to: [rcpt] }, 'Subject: unsubscribe\r\n\r\n.\r\n', (err, info) =>
          res(err ? String(err) : info.response),
        ),
      );
      c.quit();
      return out;
    };
    assert.match(await deliver(mailto.replace(/-([A-Za-z0-9_-]{16})@/, '-AAAAAAAAAAAAAAAA@')), /ignored/);
    assert.match(await deliver(mailto), /unsubscribe/);
    const unsub = await waitFor(a, id, 'MessageUnsubscribed');
    assert.equal(unsub[0]!.data.method, 'mailto');
  });

  it('honours per-message switches', async () => {
    const { email } = await sendAndReceive(a, 'app@a.test', 'quiet@example.org', {
      track_opens: false,
      track_clicks: false,
      unsubscribe: false,
    });
    assert.doesNotMatch(email.html!, /\/t\/[oc]\//);
    assert.equal(
      email.headers.some((h) => h.key === 'list-unsubscribe'),
      false,
    );
  });
});
