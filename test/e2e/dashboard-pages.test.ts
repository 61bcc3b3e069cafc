import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { CreateServer, systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { browserMissing, launchBrowser } from '../helpers/browser.js';
import { createDashboardUsers, dashboardPage, logIn, serverTab } from '../helpers/dashboard-session.js';

const missing = browserMissing();

/**
 * The server's management pages (suppressions, credentials, webhooks, inbound routes) and the users
 * page, driven in Chromium against a real Postlog, found by role and label as assistive technology does.
 */
describe('the dashboard management pages in a real browser', { skip: missing }, () => {
  let t: TestApp;
  let a: Tenant;
  let browser: Browser;
  let receiver: HttpServer;
  let receiverUrl: string;
  const received: { path: string; event: string }[] = [];

  before(async () => {
    // a receiver on loopback for webhooks and inbound routes
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const event = (() => {
          try {
            return String(JSON.parse(body).event ?? '');
          } catch {
            return '';
          }
        })();
        received.push({ path: req.url ?? '', event });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    t = await startTestApp({
      POSTLOG_ROLES: 'api,projector',
      POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
      POSTLOG_ROUTES_ALLOW_PRIVATE_ENDPOINTS: 'true',
    });
    // a development server holds every message: a MessageHeld webhook without an MTA
    a = await createTenant(t.app, { mode: 'development' });
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    await createDashboardUsers(
      t.url,
      token.value.secret,
      (['admin', 'member', 'viewer'] as const).map((role) => ({
        email: `${role}@example.com`,
        organizationId: a.organizationId,
        role,
      })),
    );
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await new Promise((r) => receiver?.close(r));
  });

  it('a member adds a suppression, finds it by address, and removes it', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'member@example.com');
    await serverTab(page, 'Suppressions');
    await page.getByText('No suppressed address.').waitFor();
    await page.getByLabel('Address to suppress').fill('Blocked@Example.com');
    await page.getByLabel('Reason').fill('asked to stop');
    await page.getByLabel('Days (empty: for ever)').fill('30');
    await page.getByRole('button', { name: 'Suppress' }).click();
    await page.getByRole('cell', { name: 'blocked@example.com', exact: true }).waitFor();
    await page.getByRole('cell', { name: 'asked to stop', exact: true }).waitFor();
    // the API holds it: a send to the address is suppressed
    const listed = await http(t.url, 'GET', '/v2/suppressions', { headers: { 'x-server-api-key': a.apiKey } });
    assert.deepEqual(
      listed.body.suppressions.map((s: { address: string }) => s.address),
      ['blocked@example.com'],
    );
    await page.getByLabel('Find an address').fill('someone-else@example.com');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('someone-else@example.com is not suppressed.').waitFor();
    await page.getByLabel('Find an address').fill('blocked@example.com');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: 'Remove blocked@example.com' }).click();
    await page.getByText('blocked@example.com is not suppressed.').waitFor();
    const after = await http(t.url, 'GET', '/v2/suppressions', { headers: { 'x-server-api-key': a.apiKey } });
    assert.deepEqual(after.body.suppressions, []);
    await page.close();
  });

  it('an admin creates an API key, sees it once, and revokes it', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await serverTab(page, 'Credentials');
    await page.getByLabel('Kind').selectOption('api');
    await page.getByLabel('Name').fill('from the dashboard');
    await page.getByRole('button', { name: 'Create credential' }).click();
    const once = page.getByRole('status');
    await once.getByText('it is shown only this once').waitFor();
    await once.getByRole('button', { name: 'Copy API key' }).waitFor();
    const key = await once.getByLabel('API key', { exact: true }).inputValue();
    assert.ok(key.length > 20, key);
    const works = await http(t.url, 'GET', '/v2/suppressions', { headers: { 'x-server-api-key': key } });
    assert.equal(works.status, 200, JSON.stringify(works.body));
    // once: a fresh look at the page lists the key without its secret
    await page.reload();
    await page.getByRole('cell', { name: 'from the dashboard', exact: true }).waitFor();
    assert.equal(await page.getByLabel('API key', { exact: true }).count(), 0, 'the key is not shown again');
    assert.ok(!(await page.content()).includes(key), 'the key is nowhere in the page');
    await page.getByRole('button', { name: 'Revoke from the dashboard' }).click();
    await page
      .getByRole('row', { name: /from the dashboard/ })
      .getByText('revoked')
      .waitFor();
    const refused = await http(t.url, 'GET', '/v2/suppressions', { headers: { 'x-server-api-key': key } });
    assert.equal(refused.status, 401, JSON.stringify(refused.body));
    await page.close();
  });

  it('a member adds a webhook endpoint, sees its delivery log, and redelivers one', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'member@example.com');
    await serverTab(page, 'Webhooks');
    await page.getByLabel('Endpoint URL').fill(`${receiverUrl}/hook`);
    await page.getByLabel('MessageHeld', { exact: true }).check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByRole('status').getByText('it is shown only this once').waitFor();
    await page.getByRole('cell', { name: 'MessageHeld', exact: true }).waitFor();
    const sent = await http(t.url, 'POST', '/v2/messages', {
      headers: { 'x-server-api-key': a.apiKey },
      body: { from: 'hello@sender.test', to: ['bob@example.com'], subject: 'Held', text: 'Hi' },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await page.getByRole('link', { name: `${receiverUrl}/hook` }).click();
    // the dispatcher follows the log: reload until the delivery is there
    const redeliver = page.getByRole('button', { name: /^Redeliver MessageHeld/ });
    for (let i = 0; i < 40 && (await redeliver.count()) === 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      await page.reload();
    }
    const before = received.filter((r) => r.path === '/hook').length;
    assert.ok(before >= 1, JSON.stringify(received));
    await redeliver.click();
    await waitUntil(() => received.filter((r) => r.path === '/hook').length > before);
    await page.close();
  });

  it('a member adds an inbound route and removes it', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'member@example.com');
    await serverTab(page, 'Inbound routes');
    await page.getByLabel('Address (or *@domain)').fill('support@sender.test');
    await page.getByLabel('Target').fill(`${receiverUrl}/inbound`);
    await page.getByRole('button', { name: 'Add route' }).click();
    await page.getByRole('cell', { name: 'support@sender.test', exact: true }).waitFor();
    const listed = await http(t.url, 'GET', `/v2/servers/${a.server.id}/routes`, {
      headers: { authorization: `Bearer ${a.adminToken}` },
    });
    assert.equal(listed.body.routes.length, 1, JSON.stringify(listed.body));
    await page.getByRole('button', { name: 'Remove the route of support@sender.test' }).click();
    await page.getByText('No inbound route').waitFor();
    await page.close();
  });

  it('an organization admin invites a user, sees the link once, and the link sets a password', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('cell', { name: 'viewer@example.com', exact: true }).waitFor();
    const invite = page.getByRole('form', { name: 'Invite a user' });
    await invite.getByLabel('Email to invite').fill('new@example.com');
    await invite.getByLabel('Role').selectOption('member');
    await page.getByRole('button', { name: 'Invite' }).click();
    const status = page.getByRole('status');
    await status.getByText('new@example.com is invited.').waitFor();
    await status.getByText('The link was not mailed').waitFor();
    const link = await status.getByLabel('Invitation link', { exact: true }).inputValue();
    assert.match(link, /\/welcome\?token=[A-Za-z0-9]+$/);
    await page.getByRole('cell', { name: 'new@example.com', exact: true }).waitFor();
    // a role changed from the list
    await page.getByLabel('Role of new@example.com in Test org').selectOption('viewer');
    await page.getByRole('button', { name: 'Save the role of new@example.com in Test org' }).click();
    await waitUntil(async () => {
      const users = await http(t.url, 'GET', '/v2/users', { headers: { authorization: `Bearer ${a.adminToken}` } });
      const user = users.body.users.find((u: { email: string }) => u.email === 'new@example.com');
      return user?.memberships[0]?.role === 'viewer';
    });
    const invited = await dashboardPage(browser, t.url);
    await invited.goto(new URL(link).pathname + new URL(link).search);
    await invited.getByLabel('New password', { exact: true }).fill('a brand new password');
    await invited.getByLabel('Repeat it').fill('a brand new password');
    await invited.getByRole('button', { name: 'Set password and sign in' }).click();
    await invited.getByRole('heading', { name: 'Organizations' }).waitFor();
    await invited.close();
    await page.close();
  });

  it('a new server shows the first steps, each linking where to do it', async () => {
    const fresh = await t.app.tenancy.createServer(
      systemActor('test'),
      a.organizationId,
      CreateServer.parse({ name: 'Fresh server' }),
    );
    assert.ok(fresh.ok);
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await page.getByRole('link', { name: 'Fresh server' }).click();
    const steps = page.getByRole('region', { name: 'Getting started' });
    await steps.getByText('Add a domain (to do)').waitFor();
    await steps.getByText('Publish its DNS records (to do)').waitFor();
    await steps.getByRole('button', { name: 'Send a test message' }).click();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'send-test-to');
    await steps.getByRole('link', { name: 'Add a domain' }).click();
    await page.getByLabel('Domain to send from').waitFor();
    // a server with a verified domain and a message (once the read model has it) has no checklist
    const sent = await http(t.url, 'POST', '/v2/messages', {
      headers: { 'x-server-api-key': a.apiKey },
      body: { from: 'hello@sender.test', to: ['carol@example.com'], subject: 'First', text: 'Hi' },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await waitUntil(async () => {
      const list = await http(t.url, 'GET', `/v2/messages?serverId=${a.server.id}`, {
        headers: { authorization: `Bearer ${a.adminToken}` },
      });
      return list.body.messages?.length > 0;
    });
    await page.goto(`/servers/${a.server.id}`);
    await page.getByRole('heading', { name: 'Last 7 days' }).waitFor();
    assert.equal(await page.getByRole('region', { name: 'Getting started' }).count(), 0);
    await page.close();
  });

  it('a viewer sees the pages and none of their actions', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'viewer@example.com');
    assert.equal(await page.getByRole('link', { name: 'Users' }).count(), 0, 'no Users page for a viewer');
    await serverTab(page, 'Suppressions');
    await page.getByLabel('Find an address').waitFor();
    assert.equal(await page.getByLabel('Address to suppress').count(), 0);
    for (const [tab, ready, actions] of [
      ['Suppressions', 'Find an address', ['Suppress', 'Remove']],
      ['Credentials', undefined, ['Create credential', 'Revoke']],
      ['Webhooks', undefined, ['Add endpoint']],
      ['Inbound routes', undefined, ['Add route', 'Remove']],
    ] as const) {
      await page.getByRole('navigation', { name: 'Server' }).getByRole('link', { name: tab, exact: true }).click();
      await page.getByRole('heading', { name: new RegExp(`^${tab}`, 'i') }).waitFor();
      if (ready) await page.getByLabel(ready).waitFor();
      for (const name of actions)
        assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} on ${tab} for a viewer`);
    }
    // the API lists a viewer no user; the page offers nothing to do
    await page.goto('/users');
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Invite' }).count(), 0);
    await page.close();
  });
});

async function waitUntil(ok: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
