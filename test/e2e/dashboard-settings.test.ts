import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { browserMissing, launchBrowser, screenshot } from '../helpers/browser.js';
import { createDashboardUsers, dashboardPage, logIn, serverTab } from '../helpers/dashboard-session.js';
import { dnsmasqAvailable, startDnsServer, type DnsServer } from '../helpers/dns-server.js';

const missing = browserMissing() ?? (dnsmasqAvailable() ? undefined : 'dnsmasq is not installed');

/**
 * The settings pages of a server in Chromium against a real Postlog, each form used as a person
 * would and the result read back through the API: track domains checked against a real DNS server
 * (dnsmasq), the server's settings with the API's complaints shown next to their fields, and an
 * SMTP IP range among the credentials.
 */
describe('the dashboard’s settings pages in a real browser', { skip: missing }, () => {
  let t: TestApp;
  let a: Tenant;
  let dns: DnsServer;
  let browser: Browser;
  let root = '';
  const asAdmin = (method: string, path: string) =>
    http(t.url, method, path, { headers: { authorization: `Bearer ${a.adminToken}` } });

  /** The API's complaint shown next to a field: the element its aria-describedby names with the error. */
  async function complaintAbout(page: Page, label: string): Promise<string> {
    const field = page.getByLabel(label, { exact: true });
    // once the answer is in: the field marked invalid
    await field.and(page.locator('[aria-invalid="true"]')).waitFor();
    const ids = ((await field.getAttribute('aria-describedby')) ?? '').split(' ');
    const id = ids.find((i) => i.endsWith('-error'));
    assert.ok(id, `${label} names no complaint (aria-describedby: ${ids.join(' ')})`);
    assert.equal(await field.getAttribute('aria-invalid'), 'true', `${label} is marked invalid`);
    return (await page.locator(`#${id}`).textContent()) ?? '';
  }

  before(async () => {
    // the test app's hostname is postlog.test: track domains point at track.postlog.test
    dns = await startDnsServer({
      a: [['track.postlog.test', '127.0.0.1']],
      cname: [['click.sender.test', 'track.postlog.test']],
    });
    t = await startTestApp({ POSTLOG_ROLES: 'api', POSTLOG_DNS_SERVERS: dns.address });
    a = await createTenant(t.app);
    const actor = systemActor('test');
    // a second verified domain, whose track domain's CNAME is nowhere
    const other = await t.app.tenancy.createDomain(actor, a.server.id, {
      name: 'other.test',
      verified: true,
      ed25519: false,
    });
    assert.ok(other.ok);
    const token = await t.app.tenancy.createAdminToken(actor, { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    root = token.value.secret;
    await createDashboardUsers(t.url, root, [
      { email: 'admin@example.com', organizationId: a.organizationId, role: 'admin' },
      { email: 'viewer@example.com', organizationId: a.organizationId, role: 'viewer' },
      { email: 'root@example.com', globalAdmin: true },
    ]);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await dns?.stop();
  });

  const trackDomainsOf = async (domain: string) => {
    const domains = await asAdmin('GET', `/v2/servers/${a.server.id}/domains`);
    const id = domains.body.domains.find((d: { name: string }) => d.name === domain).id;
    return (await asAdmin('GET', `/v2/domains/${id}/track-domains`)).body.trackDomains;
  };

  it('an admin adds track domains, sees the CNAME to create, checks them and removes one', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await serverTab(page, 'Track domains');
    await page.getByText('No track domain yet.').waitFor();
    const form = page.getByRole('form', { name: 'Add a track domain' });
    await form.getByLabel('Domain').selectOption({ label: 'sender.test' });
    await form.getByLabel('Label (the host is label.sender.test)').fill('a.b');
    await form.getByRole('button', { name: 'Add track domain' }).click();
    await page.getByText('Not saved: correct the field marked in red.').waitFor();
    assert.match(await complaintAbout(page, 'Label (the host is label.sender.test)'), /must be one DNS label/);

    await form.getByLabel('Label (the host is label.sender.test)').fill('click');
    await form.getByLabel('Links over HTTPS').uncheck();
    await form.getByRole('button', { name: 'Add track domain' }).click();
    await page.getByRole('status').getByText('click.sender.test CNAME track.postlog.test').waitFor();
    const [added] = await trackDomainsOf('sender.test');
    assert.equal(added.name, 'click.sender.test');
    assert.equal(added.https, false);
    assert.equal(added.verified, false);
    const row = page.getByRole('row', { name: /click\.sender\.test/ });
    await row.getByText('not checked yet').waitFor();
    await row.getByRole('button', { name: 'Check the CNAME of click.sender.test' }).click();
    await row.getByText('CNAME found').waitFor();
    const [checked] = await trackDomainsOf('sender.test');
    assert.equal(checked.verified, true);
    assert.equal(typeof checked.dnsCheckedAt, 'string');

    // the other domain's track domain has no CNAME: the check says what it found
    await form.getByLabel('Domain').selectOption({ label: 'other.test' });
    await form.getByLabel('Label (the host is label.other.test)').fill('links');
    await form.getByRole('button', { name: 'Add track domain' }).click();
    const missingRow = page.getByRole('row', { name: /links\.other\.test/ });
    await missingRow.getByRole('button', { name: 'Check the CNAME of links.other.test' }).click();
    await missingRow.getByText('CNAME missing or wrong').waitFor();
    await missingRow.getByText('Found nothing, expected track.postlog.test.').waitFor();
    assert.equal((await trackDomainsOf('other.test'))[0].verified, false);
    // every domain has its track domain: nothing left to add to
    assert.equal(await page.getByRole('form', { name: 'Add a track domain' }).count(), 0);
    await screenshot(page, 'track-domains');

    await missingRow.getByRole('button', { name: 'Remove links.other.test' }).click();
    await missingRow.waitFor({ state: 'detached' });
    assert.deepEqual(await trackDomainsOf('other.test'), []);
    await page.close();
  });

  it('an admin changes the server’s settings; the API’s complaints are shown next to their fields', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await serverTab(page, 'Settings');
    assert.ok(await page.getByLabel('Send limit per hour').isDisabled(), 'the send limit is for global admins');
    await page.getByLabel('Privacy mode').check();
    await page.getByLabel('Allowed senders').fill('Partner.example\nnot an address@');
    await page.getByLabel('Postmaster address').fill('postmaster@unverified.example');
    await page.getByLabel('Inbound spam threshold').fill('7.5');
    await page.getByLabel('Spam failure threshold').fill('-1');
    await page.getByLabel('Outbound spam threshold').fill('12');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Not saved: correct the fields marked in red.').waitFor();
    assert.match(await complaintAbout(page, 'Allowed senders'), /not an address@: an address \(a@b\.example\)/);
    assert.match(await complaintAbout(page, 'Spam failure threshold'), />=\s*0/);
    const unchanged = await asAdmin('GET', `/v2/servers/${a.server.id}`);
    assert.equal(unchanged.body.privacyMode, false, 'nothing was saved');

    await page.getByLabel('Allowed senders').fill('Partner.example\nbilling@other.example');
    await page.getByLabel('Spam failure threshold').fill('25');
    await page.getByRole('button', { name: 'Save settings' }).click();
    // the store's rule: the postmaster address is at a verified domain of the server
    await page.getByText('Not saved: correct the field marked in red.').waitFor();
    assert.match(await complaintAbout(page, 'Postmaster address'), /unverified\.example is not a verified domain/);

    await page.getByLabel('Postmaster address').fill('Postmaster@Sender.test');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page
      .getByRole('status')
      .getByText(/^Saved: /)
      .waitFor();
    const saved = await asAdmin('GET', `/v2/servers/${a.server.id}`);
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.equal(saved.body.privacyMode, true);
    assert.deepEqual(saved.body.allowedSenders, ['partner.example', 'billing@other.example']);
    assert.equal(saved.body.postmasterAddress, 'Postmaster@sender.test');
    assert.equal(saved.body.spamThreshold, 7.5);
    assert.equal(saved.body.spamFailThreshold, 25);
    assert.equal(saved.body.outboundSpamThreshold, 12);
    assert.equal(saved.body.sendLimitPerHour, null);
    // the page shows what the API holds now
    assert.equal(await page.getByLabel('Allowed senders').inputValue(), 'partner.example\nbilling@other.example');
    await screenshot(page, 'server-settings');

    // emptied, a threshold goes back to the configured default (null)
    await page.getByLabel('Inbound spam threshold').fill('');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').getByText('Saved: spamThreshold.').waitFor();
    assert.equal((await asAdmin('GET', `/v2/servers/${a.server.id}`)).body.spamThreshold, null);
    await page.close();
  });

  it('a global admin sets the send limit; zero is refused next to the field', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'root@example.com');
    await page.goto(`/servers/${a.server.id}/settings`);
    await page.getByLabel('Send limit per hour').fill('0');
    await page.getByRole('button', { name: 'Save settings' }).click();
    assert.match(await complaintAbout(page, 'Send limit per hour'), />\s*0/);
    await page.getByLabel('Send limit per hour').fill('500');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').getByText('Saved: sendLimitPerHour.').waitFor();
    assert.equal((await asAdmin('GET', `/v2/servers/${a.server.id}`)).body.sendLimitPerHour, 500);
    await page.close();
  });

  it('an admin adds an SMTP IP range: a range too wide is refused next to the field', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await serverTab(page, 'Credentials');
    const form = page.getByRole('form', { name: 'Create a credential' });
    await form.getByLabel('Kind').selectOption({ label: 'SMTP IP range' });
    await form.getByLabel('Name').fill('office');
    await form.getByLabel('Range (CIDR)').fill('0.0.0.0/0');
    await form.getByRole('button', { name: 'Create credential' }).click();
    assert.match(await complaintAbout(page, 'Range (CIDR)'), /at most a \/8/);
    await form.getByLabel('Range (CIDR)').fill('192.0.2.0/24');
    await form.getByRole('button', { name: 'Create credential' }).click();
    await page.getByRole('status').getByText('may now submit over SMTP without AUTH').waitFor();
    await page
      .getByRole('row', { name: /office/ })
      .getByRole('cell', { name: '192.0.2.0/24', exact: true })
      .waitFor();
    const listed = await asAdmin('GET', `/v2/servers/${a.server.id}/credentials`);
    const range = listed.body.credentials.find((c: { name: string }) => c.name === 'office');
    assert.equal(range.kind, 'smtp-ip');
    assert.equal(range.identifier, '192.0.2.0/24');
    assert.equal(await page.getByText('it is shown only this once').count(), 0, 'a range has no secret to show');
    await screenshot(page, 'credentials');
    await page.getByRole('button', { name: 'Revoke office' }).click();
    await page
      .getByRole('row', { name: /office/ })
      .getByText('revoked')
      .waitFor();
    const revoked = await asAdmin('GET', `/v2/servers/${a.server.id}/credentials`);
    assert.equal(revoked.body.credentials.find((c: { name: string }) => c.name === 'office').revoked, true);
    await page.close();
  });

  it('an admin creates an SES access key: the secret is shown once with its access key id', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await serverTab(page, 'Credentials');
    const form = page.getByRole('form', { name: 'Create a credential' });
    await form.getByLabel('Kind').selectOption({ label: 'SES access key' });
    await form.getByLabel('Name').fill('aws-sdk');
    await form.getByRole('button', { name: 'Create credential' }).click();
    await page.getByText('it is shown only this once').waitFor();
    const listed = await asAdmin('GET', `/v2/servers/${a.server.id}/credentials`);
    const key = listed.body.credentials.find((c: { name: string }) => c.name === 'aws-sdk');
    assert.equal(key.kind, 'ses');
    assert.match(key.identifier, /^PLKI[A-Z0-9]{16}$/);
    await page.getByText(`The access key id is ${key.identifier}`).waitFor();
    await page
      .getByRole('row', { name: /aws-sdk/ })
      .getByRole('cell', { name: 'SES access key' })
      .waitFor();
    await page.close();
  });

  it('a global admin creates an organization; an organization’s admin creates a server, then deletes it', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'root@example.com');
    await page.getByLabel('New organization').fill('Second org');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('article', { name: 'Second org' }).getByText('No server in this organization.').waitFor();
    const orgs = await http(t.url, 'GET', '/v2/organizations', { headers: { authorization: `Bearer ${root}` } });
    assert.ok(orgs.body.organizations.some((o: { name: string }) => o.name === 'Second org'));
    await page.close();

    const admin = await dashboardPage(browser, t.url);
    await logIn(admin, 'admin@example.com');
    assert.equal(await admin.getByLabel('New organization').count(), 0, 'only a global admin creates organizations');
    const form = admin.getByRole('form', { name: 'Create a server in Test org' });
    await form.getByLabel('New server').fill('Made here');
    await form.getByLabel('Mode').selectOption('development');
    await form.getByRole('button', { name: 'Create server' }).click();
    await admin.getByRole('heading', { name: 'Settings · Made here', level: 1 }).waitFor();
    const servers = async () =>
      (await asAdmin('GET', `/v2/organizations/${a.organizationId}/servers`)).body.servers as {
        name: string;
        mode: string;
      }[];
    assert.equal((await servers()).find((s) => s.name === 'Made here')?.mode, 'development');
    await admin.getByRole('button', { name: 'Rotate tracking key' }).click();
    await admin.getByRole('status').getByText('A new key signs tracking links from now on').waitFor();
    await admin.getByRole('button', { name: 'Delete server' }).click();
    await admin.getByRole('heading', { name: 'Organizations', level: 1 }).waitFor();
    assert.equal(
      (await servers()).find((s) => s.name === 'Made here'),
      undefined,
    );
    await admin.close();
  });

  it('an admin adds a domain that also signs with Ed25519', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await serverTab(page, 'Domains');
    const form = page.getByRole('form', { name: 'Add a domain' });
    assert.equal(await form.getByLabel('Verified without a DNS check').count(), 0, 'vouching is for global admins');
    await form.getByLabel('Domain to send from').fill('signed.test');
    await form.getByLabel('Also sign with Ed25519').check();
    await form.getByRole('button', { name: 'Add domain' }).click();
    await page.getByRole('heading', { name: /^signed\.test/ }).waitFor();
    const domains = await asAdmin('GET', `/v2/servers/${a.server.id}/domains`);
    const signed = domains.body.domains.find((d: { name: string }) => d.name === 'signed.test');
    assert.deepEqual(signed.dkimKeys.map((k: { algorithm: string }) => k.algorithm).sort(), ['ed25519', 'rsa-2048']);
    assert.equal(signed.verified, false);
    await page.close();
  });

  it('an organization’s admin creates an admin token, shown once, that the API takes; then revokes it', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin tokens' }).click();
    const form = page.getByRole('form', { name: 'Create an admin token' });
    assert.equal(
      await form.getByRole('option', { name: 'every organization (global)' }).count(),
      0,
      'global tokens are for global admins',
    );
    await form.getByLabel('Name').fill('deploy script');
    await form.getByLabel('For').selectOption({ label: 'Test org' });
    await form.getByRole('button', { name: 'Create admin token' }).click();
    const once = page.getByRole('status').filter({ hasText: 'it is shown only this once' });
    const token = await once.getByLabel('Admin token', { exact: true }).inputValue();
    const withToken = () =>
      http(t.url, 'GET', `/v2/servers/${a.server.id}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await withToken()).status, 200);
    const row = page.getByRole('row', { name: /deploy script/ });
    await row.getByRole('cell', { name: 'Test org', exact: true }).waitFor();
    await page.reload();
    await row.waitFor();
    assert.ok(!(await page.content()).includes(token), 'the token is not shown again');
    await screenshot(page, 'admin-tokens');
    await row.getByRole('button', { name: 'Revoke deploy script' }).click();
    await row.getByText('revoked').waitFor();
    assert.equal((await withToken()).status, 401);
    await page.close();
  });

  it('an admin deletes a template from its page', async () => {
    const made = await http(t.url, 'POST', `/v2/servers/${a.server.id}/templates`, {
      headers: { 'X-Server-API-Key': a.apiKey },
      body: { alias: 'old-offer', subject: 'Offer', text: 'Hi' },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await page.goto(`/templates/${made.body.id}`);
    await page.getByRole('button', { name: 'Delete template' }).click();
    await page.getByRole('heading', { name: /^Templates/, level: 1 }).waitFor();
    const gone = await http(t.url, 'GET', `/v2/templates/${made.body.id}`, {
      headers: { 'X-Server-API-Key': a.apiKey },
    });
    assert.equal(gone.status, 404, JSON.stringify(gone.body));
    await page.close();
  });

  it('the audit log shows who changed what on these pages', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    const change = page.getByRole('row', { name: /privacyMode: false → true/ });
    await change.getByText('admin@example.com').waitFor();
    await change.getByRole('link', { name: 'server' }).waitFor();
    await page
      .getByRole('row', { name: /track-domain/ })
      .first()
      .waitFor();
    // the page shows what the API lists: the newest entry first
    const listed = await asAdmin('GET', '/v2/audit?limit=1');
    const first = page.getByRole('row').nth(1);
    const text = (await first.textContent()) ?? '';
    assert.ok(text.includes(listed.body.entries[0].action), text);
    assert.ok(text.includes(listed.body.entries[0].entityType), text);
    await screenshot(page, 'audit-log');
    await page.close();
  });

  it('a viewer reads the settings and track domains, and is offered no change', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'viewer@example.com');
    await serverTab(page, 'Track domains');
    await page
      .getByRole('row', { name: /click\.sender\.test/ })
      .getByText('CNAME found')
      .waitFor();
    assert.equal(await page.getByRole('form', { name: 'Add a track domain' }).count(), 0);
    for (const name of [/^Check the CNAME/, /^Remove /])
      assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} for a viewer`);
    await page.getByRole('navigation', { name: 'Server' }).getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByText('Only an admin of the organization changes these settings.').waitFor();
    assert.ok(await page.getByLabel('Privacy mode').isChecked());
    assert.ok(await page.getByLabel('Privacy mode').isDisabled());
    assert.ok(await page.getByLabel('Postmaster address').isDisabled());
    assert.equal(await page.getByRole('button', { name: 'Save settings' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Delete server' }).count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Audit log' }).count(), 0, 'the audit log is for admins');
    assert.equal(await page.getByRole('link', { name: 'Admin tokens' }).count(), 0, 'admin tokens are for admins');
    await page.goto('/');
    await page.getByRole('link', { name: 'Test server' }).waitFor();
    assert.equal(await page.getByLabel('New server').count(), 0, 'a viewer creates no server');
    await page.close();
  });
});
