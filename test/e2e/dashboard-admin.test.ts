import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { CreateServer, systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { browserMissing, launchBrowser, screenshot } from '../helpers/browser.js';
import {
  createDashboardUsers,
  DASHBOARD_PASSWORD as PASSWORD,
  dashboardPage,
  logIn,
} from '../helpers/dashboard-session.js';

const missing = browserMissing();
const POOLS = `ipPools:
  outbound:
    - { address: 192.0.2.10, ehlo: out1.example.net, weight: 3 }
    - { address: 192.0.2.11 }
  spare:
    - { address: 192.0.2.20, ehlo: spare.example.net }
`;

/**
 * The operator's pages of the dashboard in Chromium against a real Postlog: the IP pools, a webhook
 * endpoint changed, its secret rotated and the endpoint deleted, and users taken out of an
 * organization or invited as global admins.
 */
describe('the dashboard’s operator pages in a real browser', { skip: missing }, () => {
  let t: TestApp;
  let a: Tenant;
  let otherServerId: string;
  let otherOrganizationId: string;
  let otherAdminToken: string;
  let browser: Browser;

  before(async () => {
    t = await startTestApp({ POSTLOG_ROLES: 'api', POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true' }, POOLS);
    a = await createTenant(t.app, { ipPool: 'outbound' });
    // another tenant in the same pool: its server is not named to a's users
    const actor = systemActor('test');
    const org = await t.app.tenancy.createOrganization(actor, { name: 'Other org' });
    assert.ok(org.ok);
    const server = await t.app.tenancy.createServer(
      actor,
      org.value.id,
      CreateServer.parse({ name: 'Other server', ipPool: 'outbound' }),
    );
    assert.ok(server.ok);
    otherServerId = server.value.id;
    otherOrganizationId = org.value.id;
    const other = await t.app.tenancy.createAdminToken(actor, { name: 'other', organizationId: org.value.id });
    assert.ok(other.ok);
    otherAdminToken = other.value.secret;
    await createDashboardUsers(
      t.url,
      a.adminToken,
      (['admin', 'member', 'viewer'] as const).map((role) => ({
        email: `${role}@example.com`,
        organizationId: a.organizationId,
        role,
      })),
    );
    const token = await t.app.tenancy.createAdminToken(actor, { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    await createDashboardUsers(t.url, token.value.secret, [{ email: 'root@example.com', globalAdmin: true }]);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('GET /v2/ip-pools: the configured pools, and only the servers the caller may see', async () => {
    const anonymous = await http(t.url, 'GET', '/v2/ip-pools');
    assert.equal(anonymous.status, 401, JSON.stringify(anonymous.body));
    const other = await http(t.url, 'GET', '/v2/ip-pools', { headers: { authorization: `Bearer ${otherAdminToken}` } });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.deepEqual(other.body.pools, [
      {
        name: 'outbound',
        addresses: [
          { address: '192.0.2.10', ehlo: 'out1.example.net', weight: 3 },
          { address: '192.0.2.11', ehlo: null, weight: 1 },
        ],
        servers: [{ id: otherServerId, name: 'Other server', organizationId: otherOrganizationId }],
      },
      { name: 'spare', addresses: [{ address: '192.0.2.20', ehlo: 'spare.example.net', weight: 1 }], servers: [] },
    ]);
  });

  it('the IP pools page: addresses, EHLO names, weights, and the servers of the user’s organizations', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'viewer@example.com');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'IP pools' }).click();
    const outbound = page.getByRole('article', { name: 'outbound' });
    await outbound.getByRole('cell', { name: '192.0.2.10', exact: true }).waitFor();
    await outbound.getByRole('row', { name: '192.0.2.10 out1.example.net 3' }).waitFor();
    await outbound.getByRole('row', { name: '192.0.2.11 the hostname 1' }).waitFor();
    await outbound.getByRole('link', { name: 'Test server' }).waitFor();
    assert.equal(await page.getByText('Other server').count(), 0, 'another tenant’s server is not named');
    const spare = page.getByRole('article', { name: 'spare' });
    await spare.getByText('No server you can see uses this pool.').waitFor();
    await screenshot(page, 'ip-pools');
    await outbound.getByRole('link', { name: 'Test server' }).click();
    await page.getByRole('heading', { name: 'Test server' }).waitFor();
    await page.close();
    // a global admin sees every server of the pool
    const root = await dashboardPage(browser, t.url);
    await logIn(root, 'root@example.com');
    await root.goto('/ip-pools');
    await root.getByRole('article', { name: 'outbound' }).getByRole('link', { name: 'Other server' }).waitFor();
    await root.close();
  });

  /** An endpoint made with the API, as the page would have: its id and signing secret. */
  async function endpoint(url: string): Promise<{ id: string; secret: string }> {
    const res = await http(t.url, 'POST', `/v2/servers/${a.server.id}/webhooks`, {
      headers: { authorization: `Bearer ${a.adminToken}` },
      body: { url, events: ['MessageHeld'] },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { id: res.body.endpoint.id, secret: res.body.secret };
  }
  const webhook = (id: string) =>
    http(t.url, 'GET', `/v2/webhooks/${id}`, { headers: { authorization: `Bearer ${a.adminToken}` } });

  it('a member changes a webhook endpoint, rotates its secret (shown once) and deletes it', async () => {
    const made = await endpoint('http://127.0.0.1:9/first');
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'member@example.com');
    await page.goto(`/servers/${a.server.id}/webhooks`);
    await page.getByRole('link', { name: 'http://127.0.0.1:9/first' }).click();
    const settings = page.getByRole('form', { name: 'Change the endpoint' });
    await settings.getByLabel('Endpoint URL').fill('http://127.0.0.1:9/changed');
    await settings.getByLabel('MessageHeld', { exact: true }).uncheck();
    await settings.getByLabel('MessageBounced', { exact: true }).check();
    await settings.getByLabel('Enabled').uncheck();
    await settings.getByLabel('Format').selectOption('postmark');
    await settings.getByRole('button', { name: 'Save changes' }).click();
    await settings.getByRole('status').getByText('Saved.').waitFor();
    const changed = await webhook(made.id);
    assert.equal(changed.body.format, 'postmark');
    assert.equal(changed.body.url, 'http://127.0.0.1:9/changed');
    assert.deepEqual(changed.body.events, ['MessageBounced']);
    assert.equal(changed.body.enabled, false);
    await page.getByText('no: nothing is sent').waitFor();

    await page.getByRole('button', { name: 'Rotate signing secret' }).click();
    const once = page.getByRole('status').filter({ hasText: 'it is shown only this once' });
    await once.getByRole('button', { name: 'Copy new signing secret' }).waitFor();
    const secret = await once.getByLabel('New signing secret', { exact: true }).inputValue();
    assert.ok(secret.length >= 20, secret);
    assert.notEqual(secret, made.secret);
    await screenshot(page, 'webhook');
    await page.reload();
    await page.getByRole('button', { name: 'Rotate signing secret' }).waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the new secret is not shown again');

    await page.getByRole('button', { name: 'Delete endpoint' }).click();
    await page.getByRole('heading', { name: /^Webhooks/ }).waitFor();
    await page.getByText('No webhook endpoint yet.').waitFor();
    assert.equal((await webhook(made.id)).status, 404);
    await page.close();
  });

  const userByEmail = async (email: string) => {
    const users = await http(t.url, 'GET', '/v2/users', { headers: { authorization: `Bearer ${a.adminToken}` } });
    return users.body.users.find((u: { email: string }) => u.email === email);
  };

  it('an organization admin takes a user out of the organization, but not themselves', async () => {
    const made = await http(t.url, 'POST', '/v2/users', {
      headers: { authorization: `Bearer ${a.adminToken}` },
      body: { email: 'leaver@example.com', password: PASSWORD, organizationId: a.organizationId, role: 'member' },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'admin@example.com');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('cell', { name: 'leaver@example.com', exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Remove admin@example.com from Test org' }).count(), 0);
    // an organization's admin invites to its organizations only
    const where = page.getByRole('form', { name: 'Invite a user' }).getByLabel('Organization');
    assert.equal(await where.getByRole('option', { name: 'none: a global admin' }).count(), 0);
    await page.getByRole('button', { name: 'Remove leaver@example.com from Test org' }).click();
    // the organization's admins list only its users: once out, the user is gone from the page
    await page.getByRole('cell', { name: 'leaver@example.com', exact: true }).waitFor({ state: 'detached' });
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'check', organizationId: null });
    assert.ok(token.ok);
    const users = await http(t.url, 'GET', '/v2/users', { headers: { authorization: `Bearer ${token.value.secret}` } });
    const leaver = users.body.users.find((u: { email: string }) => u.email === 'leaver@example.com');
    assert.deepEqual(leaver.memberships, []);
    // a global admin sees every user, this one with no role left
    const root = await dashboardPage(browser, t.url);
    await logIn(root, 'root@example.com');
    await root.goto('/users');
    await root
      .getByRole('row', { name: /leaver@example\.com/ })
      .getByText('no role')
      .waitFor();
    await root.close();
    await page.close();
  });

  it('a global admin invites a global admin, who belongs to no organization', async () => {
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'root@example.com');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    const invite = page.getByRole('form', { name: 'Invite a user' });
    await invite.getByLabel('Email to invite').fill('ops@example.com');
    await invite.getByLabel('Organization').selectOption({ label: 'none: a global admin' });
    assert.equal(await invite.getByLabel('Role').count(), 0, 'a global admin has no role in an organization');
    await invite.getByRole('button', { name: 'Invite' }).click();
    const status = page.getByRole('status');
    await status.getByText('ops@example.com is invited.').waitFor();
    const link = await status.getByLabel('Invitation link', { exact: true }).inputValue();
    await page
      .getByRole('row', { name: /ops@example\.com/ })
      .getByText('global admin')
      .waitFor();
    await screenshot(page, 'users');
    await page.close();
    const invited = await dashboardPage(browser, t.url);
    await invited.goto(new URL(link).pathname + new URL(link).search);
    await invited.getByLabel('New password', { exact: true }).fill('a brand new password');
    await invited.getByLabel('Repeat it').fill('a brand new password');
    await invited.getByRole('button', { name: 'Set password and sign in' }).click();
    await invited.getByRole('heading', { name: 'Organizations' }).waitFor();
    // only global admins are offered the read models
    await invited.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Read models' }).waitFor();
    await invited.close();
    assert.equal(await userByEmail('ops@example.com'), undefined, 'not in any organization of a');
  });

  it('a viewer is offered no change to a webhook endpoint', async () => {
    const made = await endpoint('http://127.0.0.1:9/viewed');
    const page = await dashboardPage(browser, t.url);
    await logIn(page, 'viewer@example.com');
    await page.goto(`/webhooks/${made.id}`);
    await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
    await page.getByText('http://127.0.0.1:9/viewed').waitFor();
    for (const name of ['Save changes', 'Rotate signing secret', 'Delete endpoint'])
      assert.equal(await page.getByRole('button', { name }).count(), 0, `no ${name} for a viewer`);
    assert.equal(await page.getByRole('form', { name: 'Change the endpoint' }).count(), 0);
    await page.close();
  });
});
