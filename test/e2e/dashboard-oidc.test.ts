import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type TestApp } from '../helpers/app.js';
import { browserMissing, launchBrowser } from '../helpers/browser.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { freePort } from '../helpers/ports.js';

const missing = browserMissing();

describe('single sign-on with OpenID Connect (a real provider, a real browser)', { skip: missing }, () => {
  let t: TestApp;
  let provider: TestOidcProvider;
  let browser: Browser;

  async function signInWithProvider(page: Page, login: string): Promise<void> {
    await page.goto('/login');
    await page.getByRole('link', { name: 'Sign in with Test SSO' }).click();
    // the provider's own development pages: a login form, then consent
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('anything');
    await page.locator('button[type="submit"]').click();
    const consent = page.locator('button[type="submit"]', { hasText: /continue/i });
    if (await consent.count()) await consent.click();
  }

  before(async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    provider = await startOidcProvider(`${publicUrl}/v2/session/oidc/callback`);
    t = await startTestApp({
      POSTLOG_HTTP_PORT: String(port),
      POSTLOG_PUBLIC_URL: publicUrl,
      POSTLOG_OIDC_ISSUER: provider.issuer,
      POSTLOG_OIDC_CLIENT_ID: provider.clientId,
      POSTLOG_OIDC_CLIENT_SECRET: provider.clientSecret,
      POSTLOG_OIDC_NAME: 'Test SSO',
      POSTLOG_OIDC_ALLOW_HTTP: 'true',
    });
    const tenant = await createTenant(t.app);
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    // invited (no password): single sign-on is how this user logs in
    const invited = await http(t.url, 'POST', '/v2/users', {
      headers: { authorization: `Bearer ${token.value.secret}` },
      body: { email: 'sso@example.com', organizationId: tenant.organizationId, role: 'viewer' },
    });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
    await provider?.close();
  });

  it('logs a user the provider vouches for in, matched by verified email, and remembers the link', async () => {
    const context = await browser.newContext({ baseURL: t.url });
    const page = await context.newPage();
    await signInWithProvider(page, 'sso@example.com');
    await page.getByRole('heading', { name: 'Organizations' }).waitFor();
    await page.getByRole('link', { name: 'Test server' }).waitFor();
    const linked = await t.db.pool.query("SELECT oidc_subject FROM users WHERE email = 'sso@example.com'");
    assert.equal(linked.rows[0].oidc_subject, 'sso@example.com');
    await context.close();
  });

  it('sends someone without a Postlog account back to the login page, saying why', async () => {
    const context = await browser.newContext({ baseURL: t.url });
    const page = await context.newPage();
    await signInWithProvider(page, 'stranger@example.com');
    await page.getByRole('alert').getByText('OIDC_NO_ACCOUNT').waitFor();
    assert.equal((await http(t.url, 'GET', '/v2/session')).status, 401);
    await context.close();
  });

  it('refuses a callback that did not start here (no attempt cookie, or a forged state)', async () => {
    const res = await fetch(`${t.url}/v2/session/oidc/callback?code=abc&state=forged`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/login?error=OIDC_FAILED');
    assert.equal(res.headers.get('set-cookie')?.includes('postlog_session='), false);
  });
});
