import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Browser, Page } from 'playwright-core';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { browserMissing, launchBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/ports.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { tempDataDir } from '../helpers/postlog-process.js';

const PASSWORD = 'correct horse battery';
const SHOTS = process.env.SCREENSHOTS ? join(process.cwd(), process.env.SCREENSHOTS) : undefined;

/** Templates and inbound routes, done by a member in the browser as a person would. */
describe('the dashboard: templates and inbound routes in a real browser', { skip: browserMissing() }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let browser: Browser;
  let inboundPort: number;
  let dns: DnsServer;
  const posted: string[] = [];
  const endpoint = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      posted.push(body);
      res.writeHead(200).end('ok');
    });
  });

  async function member(): Promise<Page> {
    const page = await (await browser.newContext({ baseURL: t.url })).newPage();
    page.on('pageerror', (e) => assert.fail(`script error in the page: ${e.message}`));
    await page.goto('/');
    await page.getByLabel('Email').fill('member@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Test server' }).click();
    return page;
  }
  const shot = async (page: Page, name: string) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };

  before(async () => {
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', () => r()));
    dns = await startDnsServer({ local: ['example.org'] });
    inboundPort = await freePort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,projector,inbound',
      POSTLOG_INBOUND_PORT: String(inboundPort),
      POSTLOG_DATA_DIR: tempDataDir('postlog-dash-flows-'),
      // a resolver that answers at once (the inbound MX checks SPF, DKIM and DMARC of every message)
      POSTLOG_DNS_SERVERS: `127.0.0.1:${dns.port}`,
      POSTLOG_ROUTES_ALLOW_PRIVATE_ENDPOINTS: 'true',
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    const res = await http(t.url, 'POST', '/v2/users', {
      headers: { authorization: `Bearer ${token.value.secret}` },
      body: { email: 'member@example.com', password: PASSWORD, organizationId: tenant.organizationId, role: 'member' },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await dns?.stop();
    endpoint.close();
  });

  it('writes a template, previews it with a model, and saves a second version', async () => {
    const page = await member();
    await page.getByRole('link', { name: 'Templates' }).click();
    await page.getByLabel('Alias').fill('welcome');
    await page.getByLabel('Subject').fill('Hi {{name}}');
    await page.getByLabel('HTML').fill('<p>Hello {{name}}</p>');
    await page.getByRole('button', { name: 'Create template' }).click();
    await page.getByRole('link', { name: 'welcome' }).click();
    await page.getByLabel('Model (JSON)').fill('{"name": "Ann <3"}');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByText('Hi Ann <3').waitFor();
    const html = await page.frameLocator('iframe[title="Rendered HTML"]').locator('p').textContent();
    assert.equal(html, 'Hello Ann <3');
    // a model without the variable: the page says which one is missing
    await page.getByLabel('Model (JSON)').fill('{}');
    await page.getByRole('button', { name: 'Preview' }).click();
    await page
      .getByRole('alert')
      .getByText(/\{\{name\}\}/)
      .waitFor();
    await page.getByLabel('Subject').first().fill('Welcome, {{name}}');
    await page.getByRole('button', { name: 'Save as version 2' }).click();
    await page.getByText('current version 2').waitFor();
    await shot(page, 'template');
  });

  it('routes an address to an HTTP endpoint and follows an incoming message from the route page', async () => {
    const page = await member();
    await page.getByRole('link', { name: 'Inbound routes' }).click();
    const url = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/in`;
    await page.getByLabel('Address (or *@domain)').fill('help@sender.test');
    await page.getByLabel('Target').fill(url);
    await page.getByRole('button', { name: 'Add route' }).click();
    await page.getByRole('link', { name: 'help@sender.test' }).click();
    await page.getByText('No message has been handed').waitFor();

    const c = new SMTPConnection({ host: '127.0.0.1', port: inboundPort, ignoreTLS: true, logger: false });
    await new Promise<void>((res, rej) => {
      c.once('error', rej);
      c.connect(() => res());
    });
    await new Promise<void>((res, rej) =>
      c.send(
        { from: 'ann@example.org', to: ['help@sender.test'] },
        'From: ann@example.org\r\nTo: help@sender.test\r\nSubject: Where is my order\r\n\r\nHello\r\n',
        (err) => (err ? rej(err) : res()),
      ),
    );
    c.quit();
    // the route page lists the message once the endpoint took it (bounded: the log, a projection, a dispatcher)
    const deadline = Date.now() + 45_000;
    for (;;) {
      await page.reload();
      // the page has loaded its data once this heading is there (until then it says "Loading")
      await page.getByRole('heading', { name: 'Messages handed to its endpoints' }).waitFor();
      if ((await page.getByRole('cell', { name: 'delivered' }).count()) > 0) break;
      if (Date.now() > deadline)
        assert.fail(`the route page never showed the delivered message (the endpoint got ${posted.length} posts)`);
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(posted.length, 1);
    await shot(page, 'route');
    await page.getByRole('row').nth(1).getByRole('link').first().click();
    await page.getByRole('heading', { name: /Where is my order/ }).waitFor();
    // the message page shows what an incoming message has: envelope, checks, endpoints
    await page.getByRole('heading', { name: 'Endpoints' }).waitFor();
    assert.match((await page.locator('dl.facts').nth(1).textContent()) ?? '', /ann@example\.org/);
    assert.equal(
      await page.getByRole('button', { name: 'Retry' }).count(),
      1,
      'a delivered incoming message can be retried',
    );
    await shot(page, 'incoming-message');
    // and the server's message list, turned to incoming, lists it
    await page.goto(`/servers/${tenant.server.id}/messages?direction=incoming`);
    await page.getByRole('link', { name: /Where is my order/ }).waitFor();
  });
});
