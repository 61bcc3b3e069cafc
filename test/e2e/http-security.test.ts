/**
 * The HTTP edge as a browser and an operator meet it (issue 20, items 9-11): security headers on
 * API and /docs answers (HSTS only when served over HTTPS), the CORS policy of /graphql and the API
 * (off unless origins are listed), /metrics in production (a token or a loopback-only listener,
 * said at start-up, a config error otherwise), and 405 for a method a known path does not take.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../infra/config/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { createHttpServer } from '../../infra/http/index.js';
import { createLogger } from '../../infra/logging/index.js';
import { createMetrics } from '../../infra/metrics/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';

const FOREIGN = 'https://evil.example';
const ALLOWED = 'https://app.example.test';

function assertSecurityHeaders(headers: Headers, what: string) {
  const csp = headers.get('content-security-policy') ?? '';
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP forbids framing (${csp})`);
  assert.match(csp, /default-src 'self'/, `${what}: CSP default-src`);
  assert.match(csp, /script-src 'self'(;|$)/, `${what}: only same-origin scripts`);
  assert.match(csp, /object-src 'none'/, `${what}: no plugins`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', what);
  assert.equal(headers.get('x-frame-options'), 'DENY', what);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', what);
}

describe('HTTP security headers', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.stop();
  });

  it('API answers (success, error, 404) carry CSP, nosniff, no framing and no Referer; no HSTS over plain HTTP', async () => {
    for (const path of ['/.well-known/jwks.json', '/v2/organizations', '/no/such/route']) {
      const res = await http(t.url, 'GET', path);
      assertSecurityHeaders(res.headers, `GET ${path} (${res.status})`);
      assert.equal(res.headers.get('strict-transport-security'), null, `${path}: no HSTS on plain HTTP`);
    }
  });

  it('GET / is the dashboard, which says where the API docs, GraphQL and health are, under the same headers', async () => {
    const res = await fetch(`${t.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assertSecurityHeaders(res.headers, 'GET /');
    const html = await res.text();
    for (const href of ['/docs', '/health', '/ready']) assert.match(html, new RegExp(`href="${href}"`));
    // the CSP allows no inline script: every script is a file of this origin
    for (const tag of html.match(/<script[^>]*>/g) ?? []) assert.match(tag, / src="\/assets\/[\w.-]+\.js"/, tag);
    assert.doesNotMatch(html, /<script(?![^>]* src=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing from another host');
  });

  it('/docs (swagger-ui) carries them too, and everything the page loads is same-origin, so it works under the CSP', async () => {
    const page = await fetch(`${t.url}/docs/`);
    assert.equal(page.status, 200);
    assertSecurityHeaders(page.headers, 'GET /docs/');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(
      assets.some((a) => a.endsWith('swagger-initializer.js')),
      'the page loads its initializer',
    );
    for (const asset of assets) {
      assert.doesNotMatch(asset, /^(https?:)?\/\//, `${asset}: another origin would be refused by the CSP`);
      const res = await fetch(new URL(asset, `${t.url}/docs/`));
      assert.equal(res.status, 200, `${asset} loads`);
      await res.arrayBuffer();
    }
    // the initializer inlines nothing the CSP refuses: it fetches the document from the same origin
    const doc = await fetch(`${t.url}/docs/json`);
    assert.equal(doc.status, 200);
    assertSecurityHeaders(doc.headers, 'GET /docs/json');
  });
});

describe('HSTS when Postlog is served over HTTPS', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ POSTLOG_PUBLIC_URL: 'https://mail.example.test' });
  });
  after(async () => {
    await t?.stop();
  });

  it('a public URL with https:// puts Strict-Transport-Security on every answer', async () => {
    for (const url of ['/v2/organizations', '/docs/', '/.well-known/jwks.json']) {
      const res = await t.app.http.inject({ method: 'GET', url });
      assert.equal(
        res.headers['strict-transport-security'],
        'max-age=31536000',
        `${url}: this host only, not its subdomains`,
      );
    }
  });
});

describe('CORS of /graphql and the API', () => {
  let closed: TestApp;
  let open: TestApp;
  let tenant: Tenant;
  let openTenant: Tenant;
  const query = JSON.stringify({ query: '{ funnel { accepted } }' });

  before(async () => {
    closed = await startTestApp({ POSTLOG_ROLES: 'api,graphql' });
    open = await startTestApp({
      POSTLOG_ROLES: 'api,graphql',
      POSTLOG_CORS_ORIGINS: `${ALLOWED}, https://other.example.test`,
    });
    tenant = await createTenant(closed.app);
    openTenant = await createTenant(open.app);
  });
  after(async () => {
    await closed?.stop();
    await open?.stop();
  });

  const post = (t: TestApp, key: string, origin: string) =>
    fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json', 'x-server-api-key': key },
      body: query,
    });
  const preflight = (t: TestApp, origin: string) =>
    fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-server-api-key',
      },
    });

  it('off by default: /graphql echoes no Origin and allows no credentials, also to a preflight', async () => {
    const res = await post(closed, tenant.apiKey, FOREIGN);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
    const pre = await preflight(closed, FOREIGN);
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    assert.equal(pre.headers.get('access-control-allow-credentials'), null);
    assert.equal(pre.status, 405, 'no CORS: OPTIONS is not a method /graphql takes');
  });

  it('with POSTLOG_CORS_ORIGINS: an allow-listed origin is echoed (GraphQL and REST, preflight too); another is not', async () => {
    const res = await post(open, openTenant.apiKey, ALLOWED);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(
      res.headers.get('access-control-allow-credentials'),
      null,
      'authentication is by header: no credentials',
    );
    const pre = await preflight(open, ALLOWED);
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /x-server-api-key/i);
    const rest = await http(open.url, 'GET', '/v2/messages', {
      headers: { origin: ALLOWED, 'x-server-api-key': openTenant.apiKey },
    });
    assert.equal(rest.status, 200);
    assert.equal(rest.headers.get('access-control-allow-origin'), ALLOWED);

    const foreign = await post(open, openTenant.apiKey, FOREIGN);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    assert.equal((await preflight(open, FOREIGN)).headers.get('access-control-allow-origin'), null);
  });

  it('an origin that is not scheme://host[:port] is a config error naming the variable', () => {
    assert.throws(
      () => loadConfig({ env: { POSTLOG_CORS_ORIGINS: 'https://app.example.test/path' }, file: '/dev/null' }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('POSTLOG_CORS_ORIGINS')),
    );
  });
});

describe('/metrics in production', () => {
  const production = { POSTLOG_ENVIRONMENT: 'production' };

  it('is a config error when neither a metrics token nor a loopback listener keeps it private', () => {
    assert.throws(
      () => loadConfig({ env: { ...production, POSTLOG_HTTP_HOST: '0.0.0.0' }, file: '/dev/null' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) => p.startsWith('POSTLOG_METRICS_TOKEN') && p.includes('POSTLOG_HTTP_HOST')),
    );
    // either one is enough; development stays as it was
    loadConfig({
      env: { ...production, POSTLOG_HTTP_HOST: '0.0.0.0', POSTLOG_METRICS_TOKEN: 'x'.repeat(16) },
      file: '/dev/null',
    });
    loadConfig({ env: { ...production, POSTLOG_HTTP_HOST: '127.0.0.1' }, file: '/dev/null' });
    loadConfig({ env: { ...production, POSTLOG_HTTP_HOST: '::1' }, file: '/dev/null' });
    loadConfig({ env: { POSTLOG_HTTP_HOST: '0.0.0.0' }, file: '/dev/null' });
  });

  /** A real HTTP server as Postlog builds it, its log lines collected. */
  async function server(options: { listenHost: string; metricsToken?: string }) {
    const lines: { msg: string; level: number }[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const app = await createHttpServer({
      logger: createLogger({ level: 'info', format: 'json', destination }),
      metrics: createMetrics(),
      eventStore: { healthy: async () => true } as unknown as EventStore,
      isReady: () => true,
      version: 'test',
      production: true,
      rateLimitPerSecond: 100,
      metricsToken: options.metricsToken,
      listenHost: options.listenHost,
      corsOrigins: [],
      bodyLimitBytes: 1024 * 1024,
      plugins: [],
    });
    return { app, lines };
  }

  it('with a token: refused without it (401), served with it, and start-up says so', async () => {
    const token = 'metrics-token-0123456789';
    const { app, lines } = await server({ listenHost: '0.0.0.0', metricsToken: token });
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    const ok = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.statusCode, 200);
    assert.match(ok.body, /postlog_/);
    assert.ok(
      lines.some((l) => /\/metrics needs the metrics token/.test(l.msg)),
      JSON.stringify(lines),
    );
    await app.close();
  });

  it('without a token on a loopback listener: served, and start-up says only this machine reaches it', async () => {
    const { app, lines } = await server({ listenHost: '127.0.0.1' });
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 200);
    // a reverse proxy on the same machine connects from loopback on behalf of anyone
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      const proxied = await app.inject({ method: 'GET', url: '/metrics', headers: { [header]: '203.0.113.9' } });
      assert.equal(proxied.statusCode, 403, header);
      assert.match(proxied.json().message, /through a proxy/);
    }
    assert.ok(
      lines.some((l) => /only this machine reaches it/.test(l.msg)),
      JSON.stringify(lines),
    );
    await app.close();
  });

  it('without a token on a public listener (the configuration refuses it; a server built anyway): 403, and a warning', async () => {
    const { app, lines } = await server({ listenHost: '0.0.0.0' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'METRICS_TOKEN_REQUIRED');
    assert.doesNotMatch(res.body, /postlog_queue_depth/);
    assert.ok(
      lines.some((l) => l.level === 40 && /\/metrics is refused/.test(l.msg)),
      JSON.stringify(lines),
    );
    await app.close();
  });
});

describe('405 for a method a known path does not take', () => {
  let t: TestApp;
  let tenant: Tenant;
  before(async () => {
    t = await startTestApp();
    tenant = await createTenant(t.app);
  });
  after(async () => {
    await t?.stop();
  });

  it('answers 405 with Allow and the error body, before reading the body; an unknown path stays 404', async () => {
    const auth = { authorization: `Bearer ${tenant.adminToken}` };
    const put = await http(t.url, 'PUT', '/v2/organizations', {
      headers: { ...auth, 'content-type': 'application/json' },
      raw: '{not json',
    });
    assert.equal(put.status, 405);
    assert.equal(put.body.code, 'METHOD_NOT_ALLOWED');
    assert.deepEqual(put.headers.get('allow')?.split(', '), ['GET', 'HEAD', 'POST']);
    assertSecurityHeaders(put.headers, 'a 405');

    // POST /v2/messages/:id/:action matches this path too, but GET /v2/messages/:id/history names it (it was a 400)
    const history = await http(t.url, 'POST', '/v2/messages/1/history', {
      headers: { 'x-server-api-key': tenant.apiKey },
    });
    assert.equal(history.status, 405);
    assert.deepEqual(history.headers.get('allow')?.split(', '), ['GET', 'HEAD']);

    const del = await http(t.url, 'DELETE', '/api/v1/send/message', { headers: { 'x-server-api-key': tenant.apiKey } });
    assert.equal(del.status, 405);
    assert.match(del.headers.get('allow') ?? '', /POST/);

    const missing = await http(t.url, 'PUT', '/v2/no-such-thing');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'NOT_FOUND');
  });

  it('the action route keeps its answers: an action is done, an unknown action is 400, GET on an action path is 405', async () => {
    const key = { 'x-server-api-key': tenant.apiKey };
    const hold = await http(t.url, 'POST', '/v2/messages/1/hold', { headers: key });
    assert.equal(hold.status, 404);
    assert.equal(hold.body.code, 'MESSAGE_NOT_FOUND');
    const unknown = await http(t.url, 'POST', '/v2/messages/1/explode', { headers: key });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.code, 'VALIDATION_FAILED');
    const get = await http(t.url, 'GET', '/v2/messages/1/hold', { headers: key });
    assert.equal(get.status, 405);
    assert.deepEqual(get.headers.get('allow')?.split(', '), ['POST']);
  });
});
