import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { generate } from 'otplib';
import PostalMime from 'postal-mime';
import { renderSVG } from 'uqr';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { browserMissing, launchBrowser, screenshot as shot } from '../helpers/browser.js';
import { DASHBOARD_PASSWORD as PASSWORD, dashboardPage, submitSignIn as logIn } from '../helpers/dashboard-session.js';
import { freePort } from '../helpers/ports.js';
import { startDevSink, type DevSink } from '../../app/cli/dev-sink.js';

const missing = browserMissing();

describe('the dashboard in a real browser (Chromium, playwright-core)', { skip: missing }, () => {
  let t: TestApp;
  let a: Tenant;
  let live: Tenant;
  let browser: Browser;
  let adminToken: string;
  let sink: DevSink;
  const sunk: string[] = [];
  const sinkDir = mkdtempSync(join(tmpdir(), 'postlog-sink-'));

  /** The text of the mail the sink received for an address (waits for it). */
  async function mailTo(address: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const f of readdirSync(sinkDir)) {
        const text = readFileSync(join(sinkDir, f), 'utf8');
        if (text.includes(`To: ${address}`)) return text;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no mail to ${address} in ${sinkDir}: ${sunk.join('; ')}`);
  }

  async function send(subject: string): Promise<string> {
    const res = await http(t.url, 'POST', '/v2/messages', {
      headers: { 'x-server-api-key': a.apiKey },
      body: { from: 'Sender <hello@sender.test>', to: ['alice@example.com'], subject, text: 'Hi' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.messages[0].id;
  }

  before(async () => {
    // a local sink as the smart host: the MTA delivers there for real
    sink = await startDevSink({
      host: '127.0.0.1',
      port: await freePort(),
      dir: sinkDir,
      print: (line) => sunk.push(line),
    });
    t = await startTestApp({
      POSTLOG_ROLES: 'api,projector,mta,graphql',
      POSTLOG_SMART_HOST: `127.0.0.1:${sink.port}`,
      POSTLOG_SMART_HOST_TLS: 'none',
      // Postlog's own mail (reset links) goes out through the live server, which has this domain verified
      POSTLOG_ACCOUNT_MAIL_FROM: 'postlog@live.example',
    });
    // a development server holds every message: held mail to release from the page
    a = await createTenant(t.app, { mode: 'development' });
    live = await createTenant(t.app, { domain: 'live.example' });
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    adminToken = token.value.secret;
    for (const [email, role] of [
      ['member@example.com', 'member'],
      ['viewer@example.com', 'viewer'],
    ] as const) {
      const res = await http(t.url, 'POST', '/v2/users', {
        headers: { authorization: `Bearer ${token.value.secret}` },
        body: { email, password: PASSWORD, organizationId: a.organizationId, role },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const root = await http(t.url, 'POST', '/v2/users', {
      headers: { authorization: `Bearer ${token.value.secret}` },
      body: { email: 'root@example.com', password: PASSWORD, globalAdmin: true },
    });
    assert.equal(root.status, 201, JSON.stringify(root.body));
    const admin = await http(t.url, 'POST', '/v2/users', {
      headers: { authorization: `Bearer ${token.value.secret}` },
      body: { email: 'admin@example.com', password: PASSWORD, organizationId: live.organizationId, role: 'admin' },
    });
    assert.equal(admin.status, 201, JSON.stringify(admin.body));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await sink?.close();
  });

  it('an admin adds a domain and sees the DNS records to publish', async () => {
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'admin@example.com');
    await page.getByRole('link', { name: 'Test server' }).click();
    await page.getByRole('link', { name: 'Domains', exact: true }).click();
    await page.getByLabel('Domain to send from').fill('news.live.example');
    await page.getByRole('button', { name: 'Add domain' }).click();
    const card = page.getByRole('article', { name: /news\.live\.example/ });
    await card.getByText('not verified').waitFor();
    for (const purpose of ['verification', 'spf', 'dkim', 'return-path'])
      assert.ok((await card.getByRole('button', { name: `Copy ${purpose} value` }).count()) > 0, purpose);
    assert.match((await card.textContent()) ?? '', /v=DKIM1; k=rsa; p=/);
    await shot(page, 'domains');
    await page.close();
  });

  it('sends a test message from the server page and watches its timeline reach Delivered at the sink', async () => {
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'admin@example.com');
    await page.getByRole('link', { name: 'Test server' }).click();
    await page.getByLabel('Send a test message to').fill('someone@example.net');
    await page.getByRole('button', { name: 'Send test message' }).click();
    const timeline = page.getByRole('list', { name: 'Events in the log' });
    await timeline.getByText('MessageDelivered').waitFor({ timeout: 20_000 });
    await page.getByRole('cell', { name: /250/ }).first().waitFor();
    // the attempt's TLS policy: the smart host's setting (plain text here)
    await page.getByRole('cell', { name: /^none\s*by smart-host$/ }).waitFor();
    assert.ok(
      sunk.some((line) => line.includes('someone@example.net')),
      sunk.join('\n'),
    );
    // what the recipient reads, and its headers
    await page.getByText('This is a test message from the Postlog server').waitFor();
    await shot(page, 'message-delivered');
    await page.getByRole('tab', { name: 'Headers' }).click();
    await page.getByRole('rowheader', { name: 'Subject', exact: true }).waitFor();
    await page.close();
  });

  it('a forgotten password: the reset link comes by mail through Postlog itself, and sets a new one', async () => {
    const page = await dashboardPage(browser, t.url, false);
    await page.goto('/');
    await page.getByRole('button', { name: 'Forgot your password?' }).click();
    await page.getByLabel('Email').fill('admin@example.com');
    await page.getByRole('button', { name: 'Send me a link' }).click();
    await page.getByRole('status').getByText('a link to reset its password is on its way').waitFor();
    const mail = await PostalMime.parse(await mailTo('admin@example.com'));
    assert.equal(mail.from?.address, 'postlog@live.example');
    const link = /http:\/\/\S+\/reset\?token=[A-Za-z0-9]+/.exec(mail.text ?? '')?.[0];
    assert.ok(link, mail.text);
    await page.goto(new URL(link).pathname + new URL(link).search);
    await page.getByLabel('New password', { exact: true }).fill('a brand new password');
    await page.getByLabel('Repeat it').fill('a brand new password');
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await page.getByRole('heading', { name: 'Organizations' }).waitFor();
    await page.close();
    const again = await dashboardPage(browser, t.url, false);
    await logIn(again, 'admin@example.com', 'a brand new password');
    await again.getByRole('heading', { name: 'Organizations' }).waitFor();
    await again.close();
    // the rest of the tests log in with the first password
    const back = await http(t.url, 'POST', '/v2/session', {
      body: { email: 'admin@example.com', password: 'a brand new password' },
    });
    const cookie = (back.headers.get('set-cookie') ?? '').split(';')[0]!;
    const changed = await http(t.url, 'POST', '/v2/session/password', {
      body: { currentPassword: 'a brand new password', newPassword: PASSWORD },
      headers: { cookie, 'x-csrf-token': back.body.csrfToken },
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
  });

  it('analytics from GraphQL and the read models’ state, with the session (a global admin)', async () => {
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'root@example.com');
    await page.getByRole('link', { name: 'Read models' }).click();
    for (const name of ['delivery-queue', 'message-read-models', 'analytics'])
      await page.getByRole('cell', { name, exact: true }).waitFor();
    await shot(page, 'read-models');
    await page.goto(`/servers/${live.server.id}/analytics`);
    await page.getByRole('heading', { name: 'Funnel' }).waitFor();
    await page.getByLabel('Breakdown by').selectOption('TAG');
    await page.getByRole('columnheader', { name: 'tag' }).waitFor();
    await shot(page, 'analytics');
    await page.close();
  });

  it('the account page: a new password, a second factor turned on, then asked for at login', async () => {
    await http(t.url, 'POST', '/v2/users', {
      headers: { authorization: `Bearer ${adminToken}` },
      body: { email: 'self@example.com', password: PASSWORD, organizationId: a.organizationId, role: 'viewer' },
    });
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'self@example.com');
    await page.getByRole('link', { name: 'self@example.com' }).click();
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password (at least 10 characters)').fill('my second password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('status').getByText('Password changed').waitFor();
    await page.getByRole('button', { name: 'Set up a second factor' }).click();
    const secret = (await page.locator('p', { hasText: 'Key:' }).locator('code').textContent())!;
    // the QR code, drawn in the page, is the code of the otpauth:// link (the key and the link stay)
    const uri = (await page.getByRole('link', { name: 'Open in an authenticator app' }).getAttribute('href'))!;
    assert.match(uri, new RegExp(`^otpauth://totp/.*secret=${secret}`));
    const drawn = page.getByRole('img', { name: 'QR code of the authenticator link' }).locator('svg path');
    const expected = /<path[^>]* d="([^"]+)"/.exec(renderSVG(uri, { pixelSize: 6, border: 4 }))?.[1];
    assert.ok(expected);
    assert.equal(await drawn.getAttribute('d'), expected);
    await shot(page, 'account-second-factor');
    await page.getByLabel('Code from the app').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('On: logging in asks for a code').waitFor();
    await shot(page, 'account');
    await page.close();
    const again = await dashboardPage(browser, t.url, false);
    await logIn(again, 'self@example.com', 'my second password');
    await again.getByLabel('Authentication code').fill(await generate({ secret }));
    await again.getByRole('button', { name: 'Sign in' }).click();
    await again.getByRole('heading', { name: 'Organizations' }).waitFor();
    await again.close();
  });

  it('refuses a wrong password with the reason, then logs in to the organizations', async () => {
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'member@example.com', 'not the password');
    await page.getByRole('alert').getByText('INVALID_LOGIN').waitFor();
    await shot(page, 'login-refused');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Organizations' }).waitFor();
    await page.getByRole('link', { name: 'Test server' }).waitFor();
    await shot(page, 'organizations');
    await page.close();
  });

  it('a member releases held mail in bulk from the message list, and sees its timeline', async () => {
    const ids = [await send('Held one'), await send('Held two')];
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'member@example.com');
    await page.getByRole('link', { name: 'Test server' }).click();
    await shot(page, 'server');
    await page.getByRole('link', { name: 'Held' }).click();
    // the read model follows the log: the list may need a moment
    for (const id of ids) await page.getByLabel(new RegExp(`select message ${id} `)).check({ timeout: 10_000 });
    await shot(page, 'held-messages');
    await page.getByRole('button', { name: 'Release' }).click();
    await page.getByRole('status').getByText('Released 2 of 2.').waitFor();
    await page.getByText('No message matches.').waitFor({ timeout: 10_000 });
    await page.goto(`/messages/${ids[0]}`);
    await page.getByRole('list', { name: 'Events in the log' }).getByText('MessageReleased').waitFor();
    await shot(page, 'message');
    await page.close();
  });

  it('searches messages by a date range', async () => {
    await send('Dated');
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'member@example.com');
    await page.getByRole('link', { name: 'Test server' }).click();
    await page.getByRole('link', { name: 'Messages' }).click();
    const today = new Date().toISOString().slice(0, 10);
    await page.getByLabel('From', { exact: true }).fill(today);
    await page.getByLabel('To', { exact: true }).fill(today);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Dated' }).waitFor({ timeout: 10_000 });
    await page.getByLabel('From', { exact: true }).fill('2020-01-01');
    await page.getByLabel('To', { exact: true }).fill('2020-01-02');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No message matches.').waitFor();
    await page.close();
  });

  it("searches messages by sender in the search box (Postal's syntax), and downloads them as CSV", async () => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      headers: { 'x-server-api-key': a.apiKey },
      body: { from: 'Billing <billing@sender.test>', to: ['bob@example.com'], subject: 'Your invoice', text: 'Hi' },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await send('From hello'); // from hello@sender.test, after the invoice: the list has both once it has this one
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'member@example.com');
    await page.getByRole('link', { name: 'Test server' }).click();
    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByRole('link', { name: 'From hello' }).waitFor({ timeout: 10_000 });
    const box = page.getByLabel('Search', { exact: true });
    await box.fill('from:BILLING@sender.test');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Your invoice' }).waitFor();
    await page.getByRole('link', { name: 'From hello' }).waitFor({ state: 'detached' });
    assert.equal(await box.inputValue(), 'from:BILLING@sender.test');
    // the download carries the same filters, and the page's session opens it
    const href = (await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href')) ?? '';
    assert.match(href, /^\/v2\/messages\.csv\?.*from=BILLING%40sender\.test/);
    const csv = await page.evaluate(async (url) => (await fetch(url)).text(), href);
    assert.match(csv, /Your invoice/);
    assert.doesNotMatch(csv, /From hello/);
    // a prefix Postlog does not know is said under the box, and the list stays as it was
    await box.fill('sender:billing@sender.test');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('alert').getByText('"sender:" is not a search prefix').waitFor();
    await page.getByRole('link', { name: 'Your invoice' }).waitFor();
    await shot(page, 'messages-search');
    await page.close();
  });

  it('a viewer sees no action, and the API refuses one from its session (403)', async () => {
    const id = await send('Held for the viewer');
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'viewer@example.com');
    await page.getByRole('heading', { name: 'Organizations' }).waitFor();
    await page.goto(`/messages/${id}`);
    await page.getByRole('list', { name: 'Events in the log' }).getByText('MessageHeld').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Release' }).count(), 0, 'no Release button for a viewer');
    // the page's own session, with its CSRF token: the API still says no
    const answer = await page.evaluate(async (messageId) => {
      const session = await (await fetch('/v2/session')).json();
      const res = await fetch(`/v2/messages/${messageId}/release`, {
        method: 'POST',
        headers: { 'x-csrf-token': session.csrfToken, 'content-type': 'application/json' },
        body: '{}',
      });
      return { status: res.status, body: await res.json() };
    }, id);
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    await page.close();
  });

  it('a change without the CSRF token is refused, even from the logged-in page', async () => {
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'member@example.com');
    await page.getByRole('heading', { name: 'Organizations' }).waitFor();
    const status = await page.evaluate(async (serverId) => {
      const res = await fetch('/v2/suppressions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ address: 'x@example.com', serverId }),
      });
      return { status: res.status, code: (await res.json()).code };
    }, a.server.id);
    assert.deepEqual(status, { status: 403, code: 'CSRF_TOKEN_INVALID' });
    await page.close();
  });

  it('an expired session sends the page back to the login form', async () => {
    const page = await dashboardPage(browser, t.url, false);
    await logIn(page, 'member@example.com');
    await page.getByRole('link', { name: 'Test server' }).waitFor();
    await t.db.pool.query("UPDATE user_sessions SET expires_at = now() - interval '1 second'");
    await page.getByRole('link', { name: 'Test server' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.close();
  });
});
