import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { http } from './app.js';

/** The password every dashboard test user gets. */
export const DASHBOARD_PASSWORD = 'correct horse battery';

/**
 * A page in a fresh browser context (its own cookies) on a running Postlog: a script error in the page
 * fails the test; with `acceptDialogs` the confirmations ("Revoke?", "Remove?") are accepted.
 */
export async function dashboardPage(browser: Browser, baseURL: string, acceptDialogs = true): Promise<Page> {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  page.on('pageerror', (e) => assert.fail(`script error in the page: ${e.message}`));
  if (acceptDialogs) page.on('dialog', (d) => void d.accept());
  return page;
}

/** Fills and sends the sign-in form (the result is the caller's to check). */
export async function submitSignIn(page: Page, email: string, password = DASHBOARD_PASSWORD): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in and waits for the first page a signed-in user sees. */
export async function logIn(page: Page, email: string): Promise<void> {
  await submitSignIn(page, email);
  await page.getByRole('heading', { name: 'Organizations' }).waitFor();
}

/** From the organizations page: opens "Test server" (createTenant's) and one of its tabs. */
export async function serverTab(page: Page, tab: string): Promise<void> {
  await page.getByRole('link', { name: 'Test server' }).click();
  await page.getByRole('navigation', { name: 'Server' }).getByRole('link', { name: tab, exact: true }).click();
  await page.getByRole('heading', { name: new RegExp(`^${tab} · Test server`), level: 1 }).waitFor();
}

/** Dashboard users over the API (with DASHBOARD_PASSWORD): each with a role in `organizationId`, or a global admin. */
export async function createDashboardUsers(
  url: string,
  bearer: string,
  users: ({ email: string; organizationId: string; role: string } | { email: string; globalAdmin: true })[],
): Promise<void> {
  for (const user of users) {
    const res = await http(url, 'POST', '/v2/users', {
      headers: { authorization: `Bearer ${bearer}` },
      body: { ...user, password: DASHBOARD_PASSWORD },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
}
