import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { browserMissing, launchBrowser } from '../helpers/browser.js';

const PASSWORD = 'correct horse battery';
const missing = browserMissing();

/**
 * What assistive technology needs of every page (docs/dashboard.md): each form field has a label
 * and each button an accessible name. Read from the DOM as a screen reader would compute them, in
 * short: aria-label, aria-labelledby, then the label elements' own text (not the text of the
 * controls inside them: a select's options do not label it) or the button's text, then a title.
 * Links and images are held to the same: a screen reader announces them by name too.
 */
function unnamed(): { problems: string[]; seen: { fields: number; buttons: number } } {
  const seen = { fields: 0, buttons: 0 };
  const text = (el: Element | null | undefined): string => {
    if (!el) return '';
    const copy = el.cloneNode(true) as Element;
    for (const control of copy.querySelectorAll('input, select, textarea, button')) control.remove();
    return (copy.textContent ?? '').replace(/\s+/g, ' ').trim();
  };
  const aria = (el: Element): string => {
    const label = el.getAttribute('aria-label')?.trim();
    if (label) return label;
    const by = el.getAttribute('aria-labelledby');
    return by
      ? by
          .split(/\s+/)
          .map((id) => text(document.getElementById(id)))
          .join(' ')
          .trim()
      : '';
  };
  const show = (el: Element) => el.outerHTML.replace(/\s+/g, ' ').slice(0, 160);
  const problems: string[] = [];
  for (const el of document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>(
    'input, select, textarea',
  )) {
    if (el instanceof HTMLInputElement && ['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type)) continue;
    const name = aria(el) || [...(el.labels ?? [])].map(text).join(' ').trim() || el.title.trim();
    if (!name) problems.push(`a field without a label: ${show(el)}`);
  }
  for (const el of document.querySelectorAll<HTMLElement>(
    'button, [role="button"], input[type="submit"], input[type="button"], input[type="reset"]',
  )) {
    const own = el instanceof HTMLInputElement ? el.value : (el.textContent ?? '');
    const name = aria(el) || own.replace(/\s+/g, ' ').trim() || el.title.trim();
    if (!name) problems.push(`a button without a name: ${show(el)}`);
  }
  // and what a screen reader announces by name too: links and images
  for (const el of document.querySelectorAll<HTMLElement>('a[href], img, [role="img"]')) {
    const own =
      el instanceof HTMLImageElement ? el.alt : el.getAttribute('role') === 'img' ? '' : (el.textContent ?? '');
    const name = aria(el) || own.replace(/\s+/g, ' ').trim() || el.title.trim();
    if (!name) problems.push(`${el instanceof HTMLAnchorElement ? 'a link' : 'an image'} without a name: ${show(el)}`);
  }
  seen.fields += document.querySelectorAll('input:not([type="hidden"]), select, textarea').length;
  seen.buttons += document.querySelectorAll('button').length;
  return { problems, seen };
}

describe('the dashboard’s accessibility: every field labelled, every button named', { skip: missing }, () => {
  let t: TestApp;
  let a: Tenant;
  let browser: Browser;
  let messageId: string;
  let webhookId: string;

  before(async () => {
    t = await startTestApp(
      { POSTLOG_ROLES: 'api,projector,graphql', POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true' },
      'ipPools:\n  outbound:\n    - { address: 192.0.2.10, ehlo: out.example.net }\n',
    );
    // a development server holds its mail: held messages to select and act on; in a pool, for the pools page
    a = await createTenant(t.app, { mode: 'development', ipPool: 'outbound' });
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    const root = await http(t.url, 'POST', '/v2/users', {
      headers: { authorization: `Bearer ${token.value.secret}` },
      body: { email: 'root@example.com', password: PASSWORD, globalAdmin: true },
    });
    assert.equal(root.status, 201, JSON.stringify(root.body));
    const member = await http(t.url, 'POST', '/v2/users', {
      headers: { authorization: `Bearer ${a.adminToken}` },
      body: { email: 'member@example.com', password: PASSWORD, organizationId: a.organizationId, role: 'member' },
    });
    assert.equal(member.status, 201, JSON.stringify(member.body));
    const sent = await http(t.url, 'POST', '/v2/messages', {
      headers: { 'x-server-api-key': a.apiKey },
      body: { from: 'hello@sender.test', to: ['bob@example.com'], subject: 'Held', text: 'Hi' },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    messageId = sent.body.messages[0].id;
    const hook = await http(t.url, 'POST', `/v2/servers/${a.server.id}/webhooks`, {
      headers: { authorization: `Bearer ${a.adminToken}` },
      body: { url: 'http://127.0.0.1:9/hook' },
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    webhookId = hook.body.endpoint.id;
    const suppressed = await http(t.url, 'POST', '/v2/suppressions', {
      headers: { 'x-server-api-key': a.apiKey },
      body: { address: 'gone@example.com', reason: 'asked' },
    });
    assert.equal(suppressed.status, 201, JSON.stringify(suppressed.body));
    // a track domain: its row's copy, check and remove buttons are walked too
    const domains = await http(t.url, 'GET', `/v2/servers/${a.server.id}/domains`, {
      headers: { authorization: `Bearer ${a.adminToken}` },
    });
    const track = await http(t.url, 'POST', `/v2/domains/${domains.body.domains[0].id}/track-domains`, {
      headers: { authorization: `Bearer ${a.adminToken}` },
      body: { name: 'click' },
    });
    assert.equal(track.status, 201, JSON.stringify(track.body));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  /** The page once its content is there: its heading shown and nothing left loading. */
  async function settled(page: Page, heading: string | RegExp): Promise<void> {
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await page.locator('[aria-busy="true"]').first().waitFor({ state: 'detached' });
  }

  /** Every field and button the walk looked at: a walk of empty pages would find nothing wrong, and prove nothing. */
  const seen = { fields: 0, buttons: 0 };
  async function check(page: Page, where: string, problems: string[]): Promise<void> {
    const found = await page.evaluate(unnamed);
    for (const p of found.problems) problems.push(`${where}: ${p}`);
    seen.fields += found.seen.fields;
    seen.buttons += found.seen.buttons;
  }

  it('finds what it looks for: a field without a label and a nameless button are reported', async () => {
    const page = await browser.newPage();
    await page.setContent(
      '<label>Email <input type="email"></label><input id="x"><label><select><option>admin</option></select></label>' +
        '<button aria-label="Close">×</button><button type="button"><svg></svg></button>' +
        '<a href="/x"><svg></svg></a><a href="/y">a page</a><img src="data:," alt=""><div role="img"></div>',
    );
    const { problems } = await page.evaluate(unnamed);
    await page.close();
    assert.equal(problems.length, 6, problems.join('\n'));
    assert.match(problems[0]!, /field without a label: <input id="x">/);
    assert.match(problems[1]!, /field without a label: <select>/);
    assert.match(problems[2]!, /button without a name: <button type="button">/);
    assert.match(problems[3]!, /a link without a name: <a href="\/x">/);
    assert.match(problems[4]!, /an image without a name: <img/);
    assert.match(problems[5]!, /an image without a name: <div role="img">/);
  });

  it('every page, logged out and as a global admin', async () => {
    const problems: string[] = [];
    const context = await browser.newContext({ baseURL: t.url });
    const page = await context.newPage();
    page.on('pageerror', (e) => assert.fail(`script error in the page: ${e.message}`));
    page.on('dialog', (d) => void d.dismiss());

    await page.goto('/');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await check(page, 'login', problems);
    await page.getByRole('button', { name: 'Forgot your password?' }).click();
    await page.getByRole('button', { name: 'Send me a link' }).waitFor();
    await check(page, 'login, forgotten password', problems);
    await page.goto('/welcome?token=not-a-real-token-but-long-enough');
    await page.getByRole('button', { name: 'Set password and sign in' }).waitFor();
    await check(page, 'invitation', problems);

    await page.goto('/');
    await page.getByLabel('Email').fill('root@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await settled(page, 'Organizations');
    await check(page, 'organizations', problems);
    const s = `/servers/${a.server.id}`;
    const pages: [string, string | RegExp][] = [
      [s, 'Test server'],
      [`${s}/messages`, /^Messages/],
      [`${s}/messages?status=held`, /^Messages/],
      [`${s}/domains`, /^Domains/],
      [`${s}/track-domains`, /^Track domains/],
      [`${s}/settings`, /^Settings/],
      [`${s}/credentials`, /^Credentials/],
      [`${s}/suppressions`, /^Suppressions/],
      [`${s}/suppressions?address=gone@example.com`, /^Suppressions/],
      [`${s}/webhooks`, /^Webhooks/],
      [`/webhooks/${webhookId}`, /^Webhook/],
      [`${s}/routes`, /^Inbound routes/],
      [`${s}/queue`, /^Queue/],
      [`${s}/analytics`, /^Analytics/],
      [`/messages/${messageId}`, /.+/],
      ['/users', 'Users'],
      ['/ip-pools', 'IP pools'],
      ['/audit', 'Audit log'],
      ['/admin-tokens', 'Admin tokens'],
      ['/system/read-models', /^Read models/],
      ['/account', 'Your account'],
    ];
    // the held message listed (the read model follows the log), with the box that selects it
    await page.goto(`${s}/messages?status=held`);
    await page
      .getByLabel(/^select message /)
      .first()
      .waitFor({ timeout: 10_000 });
    await check(page, 'held messages, listed', problems);
    await page.goto('/no/such/page');
    await page.getByText('No such page.').waitFor();
    await check(page, 'no such page', problems);
    for (const [path, heading] of pages) {
      await page.goto(path);
      await settled(page, heading);
      await check(page, path, problems);
    }
    // the states a click opens: a second factor being set up
    await page.getByRole('button', { name: 'Set up a second factor' }).click();
    await page.getByRole('img', { name: 'QR code of the authenticator link' }).waitFor();
    await check(page, '/account, second factor set-up', problems);
    await context.close();
    assert.deepEqual(problems, []);
    assert.ok(seen.fields >= 50 && seen.buttons >= 50, `the walk saw only ${JSON.stringify(seen)}`);
  });
});
