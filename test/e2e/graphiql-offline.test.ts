import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { GRAPHIQL_PACKAGE } from '../../read-api/graphql/graphiql-assets.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

const require = createRequire(import.meta.url);
/** Whether GraphiQL's files are in node_modules (without them GraphiQL is yoga's unpkg page). */
const installed = (() => {
  try {
    require.resolve(`${GRAPHIQL_PACKAGE}/package.json`);
    return true;
  } catch {
    return false;
  }
})();
const NOT_INSTALLED = `${GRAPHIQL_PACKAGE} is not in node_modules: GraphiQL falls back to unpkg (package.json needs it)`;

/** A browser to render the page with: Debian's chromium driven by playwright-core, when both are here. */
function browser(): string | undefined {
  try {
    require.resolve('playwright-core');
    const path = execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

describe('GraphiQL works offline: its files come from this server', () => {
  let t: TestApp;
  let html = '';
  let csp = '';
  before(async () => {
    t = await startTestApp({ POSTLOG_ROLES: 'api,graphql' });
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    html = await page.text();
    csp = page.headers.get('content-security-policy') ?? '';
  });
  after(async () => {
    await t?.stop();
  });

  it('references no other host, and its CSP allows scripts from this server only', (c) => {
    if (!installed) return c.skip(NOT_INSTALLED);
    assert.doesNotMatch(html, /(https?:)?\/\/[a-z0-9-]+(\.[a-z0-9-]+)+/i, 'no URL with a host');
    assert.doesNotMatch(html, /<script>/, 'no inline script (the options are JSON data)');
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /https?:|unpkg|'unsafe-eval'/);
  });

  it('serves every file the page and its editor workers load, with the right content type', async (c) => {
    if (!installed) return c.skip(NOT_INSTALLED);
    const linked = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual(linked, [
      '/graphql/assets/graphiql.css',
      '/graphql/assets/start.js',
      '/graphql/assets/yoga-graphiql.js',
    ]);
    const start = await (await fetch(`${t.url}/graphql/assets/start.js`)).text();
    const workers = [...start.matchAll(/'([a-z]+\.worker\.js)'/g)].map((m) => `/graphql/assets/${m[1]}`);
    assert.equal(workers.length, 3, start);
    for (const path of [...linked, ...workers]) {
      const res = await fetch(`${t.url}${path}`);
      assert.equal(res.status, 200, path);
      const type = path.endsWith('.css') ? /^text\/css/ : /^text\/javascript/;
      assert.match(res.headers.get('content-type') ?? '', type, path);
      assert.ok((await res.arrayBuffer()).byteLength > 100, `${path} has content`);
    }
    assert.equal((await fetch(`${t.url}/graphql/assets/nothing.js`)).status, 404);
  });

  it('renders GraphiQL in a headless browser', async (c) => {
    if (!installed) return c.skip(NOT_INSTALLED);
    const chromium = browser();
    if (!chromium) return c.skip('no Debian chromium with playwright-core here to render the page with');
    const playwright = 'playwright-core'; // not a dependency: imported only where it is installed
    const { chromium: driver } = (await import(playwright)) as {
      chromium: { launch(o: object): Promise<{ newPage(): Promise<any>; close(): Promise<void> }> };
    };
    const b = await driver.launch({ executablePath: chromium });
    try {
      const page = await b.newPage();
      const external: string[] = [];
      const errors: string[] = [];
      page.on('request', (r: { url(): string }) => {
        if (!/^(https?:\/\/127\.0\.0\.1:\d+\/|blob:|data:)/.test(r.url())) external.push(r.url());
      });
      // a CSP violation or a worker that does not load is a console error; a failed request is listed
      // by its URL instead (the schema's introspection is refused without a key, and there is no favicon)
      page.on('console', (m: { type(): string; text(): string }) => {
        if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) errors.push(m.text());
      });
      page.on('pageerror', (e: Error) => errors.push(e.message));
      const loaded: string[] = [];
      page.on('response', (r: { status(): number; url(): string }) => {
        const path = new URL(r.url()).pathname;
        if (r.status() === 200) loaded.push(path);
        const expected = (r.status() === 401 && path === '/graphql') || (r.status() === 404 && path === '/favicon.ico');
        if (r.status() >= 400 && !expected) errors.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${t.url}/graphql`);
      // the editors are Monaco's: they appear once its code and workers run
      await page.waitForSelector('.graphiql-container .monaco-editor', { timeout: 30_000 });
      await page.waitForTimeout(1000);
      assert.deepEqual(external, [], 'nothing loaded from elsewhere');
      assert.deepEqual(errors, [], 'no errors in the page');
      // Monaco started its editor worker from this server (the GraphQL one starts once a schema is known)
      assert.ok(loaded.includes('/graphql/assets/editor.worker.js'), loaded.join(', '));
    } finally {
      await b.close();
    }
  });
});
