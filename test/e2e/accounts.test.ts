import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generate } from 'otplib';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';

/** A browser's view of a session: its cookie and CSRF token. */
interface Browser {
  cookie: string;
  csrf: string;
}

const PASSWORD = 'correct horse battery';

describe('dashboard accounts: users, roles, sessions (through the HTTP API)', () => {
  let t: TestApp;
  let a: Tenant;
  let b: Tenant;
  let globalToken: string;

  const as = (s: Browser, method: string, path: string, body?: unknown, csrf = true) =>
    http(t.url, method, path, {
      ...(body !== undefined ? { body } : {}),
      headers: { cookie: s.cookie, ...(csrf ? { 'x-csrf-token': s.csrf } : {}) },
    });

  async function login(email: string, password = PASSWORD): Promise<Browser> {
    const res = await http(t.url, 'POST', '/v2/session', { body: { email, password } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const setCookie = res.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /postlog_session=\w+/);
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Lax/i);
    return { cookie: setCookie.split(';')[0]!, csrf: res.body.csrfToken };
  }

  async function createUser(body: Record<string, unknown>) {
    const res = await http(t.url, 'POST', '/v2/users', {
      body,
      headers: { authorization: `Bearer ${globalToken}` },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }

  before(async () => {
    t = await startTestApp({ POSTLOG_LOGIN_FAILURES_PER_ACCOUNT: '3' });
    a = await createTenant(t.app, { domain: 'a.example' });
    b = await createTenant(t.app, { domain: 'b.example' });
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'ops', organizationId: null });
    assert.ok(token.ok);
    globalToken = token.value.secret;
    await createUser({ email: 'Root@Example.com', password: PASSWORD, globalAdmin: true });
    await createUser({
      email: 'member@example.com',
      password: PASSWORD,
      organizationId: a.organizationId,
      role: 'member',
    });
    await createUser({
      email: 'viewer@example.com',
      password: PASSWORD,
      organizationId: a.organizationId,
      role: 'viewer',
    });
  });
  after(() => t.stop());

  it('refuses a wrong password and an unknown email alike, and sets no cookie', async () => {
    const wrong = await http(t.url, 'POST', '/v2/session', {
      body: { email: 'member@example.com', password: 'nope-nope-nope' },
    });
    const unknown = await http(t.url, 'POST', '/v2/session', {
      body: { email: 'nobody@example.com', password: PASSWORD },
    });
    for (const res of [wrong, unknown]) {
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'INVALID_LOGIN');
      assert.equal(res.headers.get('set-cookie'), null);
    }
  });

  it('logs in (the email in any case) and says who, with roles and a CSRF token', async () => {
    const s = await login('ROOT@example.com');
    const me = await as(s, 'GET', '/v2/session');
    assert.equal(me.status, 200);
    assert.equal(me.body.user.email, 'root@example.com');
    assert.equal(me.body.user.globalAdmin, true);
    const member = await as(await login('member@example.com'), 'GET', '/v2/session');
    assert.deepEqual(member.body.memberships, [
      { organizationId: a.organizationId, organizationName: 'Test org', role: 'member' },
    ]);
  });

  it('a viewer reads its organization only, and every change is refused with 403', async () => {
    const s = await login('viewer@example.com');
    const orgs = await as(s, 'GET', '/v2/organizations');
    assert.deepEqual(
      orgs.body.organizations.map((o: { id: string }) => o.id),
      [a.organizationId],
    );
    assert.equal((await as(s, 'GET', `/v2/messages?serverId=${a.server.id}`)).status, 200);
    assert.equal(
      (await as(s, 'GET', `/v2/servers/${b.server.id}`)).status,
      404,
      "another tenant's server is not found",
    );
    const suppress = await as(s, 'POST', '/v2/suppressions', { address: 'x@y.example', serverId: a.server.id });
    assert.equal(suppress.status, 403, JSON.stringify(suppress.body));
    const bulk = await as(s, 'POST', '/v2/messages/bulk/release', { serverId: a.server.id });
    assert.equal(bulk.status, 403, JSON.stringify(bulk.body));
    const route = await as(s, 'POST', `/v2/servers/${a.server.id}/routes`, {
      address: 'in@a.example',
      endpointUrl: 'https://hooks.example/in',
    });
    assert.equal(route.status, 403, JSON.stringify(route.body));
    const domain = await as(s, 'POST', `/v2/servers/${a.server.id}/domains`, { name: 'new.example' });
    assert.equal(domain.status, 403);
    assert.match(domain.body.message, /viewer/);
  });

  it('a member acts on mail but does not manage domains or credentials', async () => {
    const s = await login('member@example.com');
    const suppress = await as(s, 'POST', '/v2/suppressions', { address: 'x@y.example', serverId: a.server.id });
    assert.equal(suppress.status, 201, JSON.stringify(suppress.body));
    const credential = await as(s, 'POST', `/v2/servers/${a.server.id}/credentials`, { kind: 'api' });
    assert.equal(credential.status, 403);
    assert.match(credential.body.message, /member/);
  });

  it('a change without the session’s CSRF token is refused, whatever else is right', async () => {
    const s = await login('member@example.com');
    const without = await as(s, 'POST', '/v2/suppressions', { address: 'z@y.example', serverId: a.server.id }, false);
    assert.equal(without.status, 403);
    assert.equal(without.body.code, 'CSRF_TOKEN_INVALID');
    const other = await login('member@example.com');
    const crossed = await http(t.url, 'POST', '/v2/suppressions', {
      body: { address: 'z@y.example', serverId: a.server.id },
      headers: { cookie: s.cookie, 'x-csrf-token': other.csrf },
    });
    assert.equal(crossed.body.code, 'CSRF_TOKEN_INVALID', "another session's token does not do");
  });

  it('logging out ends the session; logging out everywhere ends them all', async () => {
    const s = await login('member@example.com');
    assert.equal((await as(s, 'DELETE', '/v2/session')).status, 204);
    const after = await as(s, 'GET', '/v2/organizations');
    assert.equal(after.status, 401);
    assert.equal(after.body.code, 'SESSION_EXPIRED');
    const one = await login('member@example.com');
    const two = await login('member@example.com');
    assert.equal((await as(one, 'POST', '/v2/session/logout-everywhere')).status, 204);
    assert.equal((await as(two, 'GET', '/v2/session')).status, 401);
  });

  it('a session idle longer than the idle timeout has ended', async () => {
    const s = await login('member@example.com');
    assert.equal((await as(s, 'GET', '/v2/session')).status, 200);
    await t.db.pool.query("UPDATE user_sessions SET last_seen_at = now() - interval '9 hours'");
    const res = await as(s, 'GET', '/v2/session');
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 'SESSION_EXPIRED');
  });

  it('throttles failed logins per account: then even the right password waits', async () => {
    await createUser({
      email: 'target@example.com',
      password: PASSWORD,
      organizationId: a.organizationId,
      role: 'viewer',
    });
    for (let i = 0; i < 3; i++) {
      const res = await http(t.url, 'POST', '/v2/session', {
        body: { email: 'target@example.com', password: 'wrong-wrong-wrong' },
      });
      assert.equal(res.status, 401);
    }
    const res = await http(t.url, 'POST', '/v2/session', { body: { email: 'target@example.com', password: PASSWORD } });
    assert.equal(res.status, 429);
    assert.equal(res.body.code, 'LOGIN_THROTTLED');
    assert.equal(res.headers.get('retry-after'), '60');
  });

  it('invites by link: the invited user sets a password once and is logged in', async () => {
    const created = await createUser({ email: 'new@example.com', organizationId: a.organizationId, role: 'viewer' });
    const token = new URL(created.inviteUrl, 'http://x').searchParams.get('token');
    assert.ok(token);
    const noPassword = await http(t.url, 'POST', '/v2/session', {
      body: { email: 'new@example.com', password: PASSWORD },
    });
    assert.equal(noPassword.status, 401, 'no login before the invitation is accepted');
    const short = await http(t.url, 'POST', '/v2/invitations/accept', { body: { token, password: 'short' } });
    assert.equal(short.status, 400);
    const accepted = await http(t.url, 'POST', '/v2/invitations/accept', { body: { token, password: PASSWORD } });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.match(accepted.headers.get('set-cookie') ?? '', /postlog_session=/);
    const again = await http(t.url, 'POST', '/v2/invitations/accept', { body: { token, password: PASSWORD } });
    assert.equal(again.body.code, 'INVALID_LINK', 'a link works once');
    await login('new@example.com');
  });

  it('a global admin invites a global admin by link, in no organization; an organization admin may not', async () => {
    const root = await login('root@example.com');
    const invited = await as(root, 'POST', '/v2/users', { email: 'ops@example.com', globalAdmin: true });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    assert.equal(invited.body.user.globalAdmin, true);
    assert.deepEqual(invited.body.user.memberships, []);
    const token = new URL(invited.body.inviteUrl, 'http://x').searchParams.get('token');
    const accepted = await http(t.url, 'POST', '/v2/invitations/accept', { body: { token, password: PASSWORD } });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    const me = await as(await login('ops@example.com'), 'GET', '/v2/session');
    assert.equal(me.body.user.globalAdmin, true);
    const refused = await http(t.url, 'POST', '/v2/users', {
      body: { email: 'ops2@example.com', globalAdmin: true },
      headers: { authorization: `Bearer ${a.adminToken}` },
    });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
  });

  it("an organization's admin adds users to its organization only, and makes no global admin", async () => {
    const res = await http(t.url, 'POST', '/v2/users', {
      body: { email: 'x@example.com', password: PASSWORD, organizationId: b.organizationId, role: 'viewer' },
      headers: { authorization: `Bearer ${a.adminToken}` },
    });
    assert.equal(res.status, 403);
    const global = await http(t.url, 'POST', '/v2/users', {
      body: { email: 'y@example.com', password: PASSWORD, globalAdmin: true },
      headers: { authorization: `Bearer ${a.adminToken}` },
    });
    assert.equal(global.status, 403);
    const ok = await http(t.url, 'POST', '/v2/users', {
      body: { email: 'z@example.com', password: PASSWORD, organizationId: a.organizationId, role: 'member' },
      headers: { authorization: `Bearer ${a.adminToken}` },
    });
    assert.equal(ok.status, 201);
    const dup = await http(t.url, 'POST', '/v2/users', {
      body: { email: 'Z@example.com', password: PASSWORD },
      headers: { authorization: `Bearer ${globalToken}` },
    });
    assert.equal(dup.status, 409, 'an email is one user, in any case');
    assert.equal(dup.body.code, 'CONFLICT');
  });

  it('a second factor: set up, enabled with a code, then asked for at login', async () => {
    await createUser({
      email: 'totp@example.com',
      password: PASSWORD,
      organizationId: a.organizationId,
      role: 'viewer',
    });
    const s = await login('totp@example.com');
    const setup = await as(s, 'POST', '/v2/session/totp/setup');
    assert.equal(setup.status, 200);
    assert.match(setup.body.uri, /^otpauth:\/\/totp\/Postlog:totp%40example\.com\?secret=/);
    const wrong = await as(s, 'POST', '/v2/session/totp/enable', { code: '000000' });
    assert.equal(wrong.status, 400);
    const code = await generate({ secret: setup.body.secret });
    assert.equal((await as(s, 'POST', '/v2/session/totp/enable', { code })).status, 204);
    const withoutCode = await http(t.url, 'POST', '/v2/session', {
      body: { email: 'totp@example.com', password: PASSWORD },
    });
    assert.equal(withoutCode.status, 401);
    assert.equal(withoutCode.body.code, 'TOTP_REQUIRED');
    const withCode = await http(t.url, 'POST', '/v2/session', {
      body: { email: 'totp@example.com', password: PASSWORD, totpCode: await generate({ secret: setup.body.secret }) },
    });
    assert.equal(withCode.status, 200);
  });

  it('names the user in the audit log for a change made with a session', async () => {
    const s = await login('root@example.com');
    const created = await as(s, 'POST', '/v2/organizations', { name: 'Made by a user' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const audit = await as(s, 'GET', '/v2/audit');
    const entry = audit.body.entries.find((e: { entityId: string }) => e.entityId === created.body.id);
    assert.equal(entry.actor, 'user:root@example.com');
  });
});
