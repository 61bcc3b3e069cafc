import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { baseEnv, runCli, startPostlogProcess, tempDataDir, type PostlogProcess } from '../helpers/postlog-process.js';

/** `postlog init` makes the dashboard's first admin; `postlog user …` manages users from a shell. */
describe('postlog user and the first admin (CLI, a real postlog start)', () => {
  let env: Record<string, string>;
  let init: { organizationId: string; user: { email: string; password: string } };
  let postlog: PostlogProcess;

  const login = (email: string, password: string) =>
    fetch(`${postlog.url}/v2/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });

  before(async () => {
    env = await baseEnv(tempDataDir(), { POSTLOG_HOSTNAME: 'mail.example.com' });
    const res = await runCli(['init', '--json'], env);
    assert.equal(res.code, 0, res.stderr);
    init = JSON.parse(res.stdout);
    postlog = await startPostlogProcess(env);
  });
  after(() => postlog?.child.kill('SIGTERM'));

  it('init --json prints the first global admin, whose password logs in to the dashboard', async () => {
    assert.equal(init.user.email, 'admin@mail.example.com');
    assert.ok(init.user.password.length >= 20);
    const res = await login(init.user.email, init.user.password);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { user: { globalAdmin: boolean } }).user.globalAdmin, true);
  });

  it('init --force again makes no second admin', async () => {
    const res = await runCli(['init', '--force', '--json'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).user, undefined);
  });

  it('user create with a password from standard input, user list, and a duplicate refused', async () => {
    const created = await runCli(
      [
        'user',
        'create',
        '--email',
        'Viewer@Example.com',
        '--role',
        'viewer',
        '--org',
        init.organizationId,
        '--password-stdin',
        '--json',
      ],
      env,
      'a viewer password\n',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.equal(JSON.parse(created.stdout).password, undefined, 'a password given is not printed');
    assert.equal((await login('viewer@example.com', 'a viewer password')).status, 200);
    const listed = await runCli(['user', 'list'], env);
    assert.match(listed.stdout, /viewer@example\.com\s+viewer of My organization/);
    const again = await runCli(['user', 'create', '--email', 'viewer@example.com', '--role', 'admin'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error USER_EXISTS: /m);
  });

  it('usage mistakes exit 2 with their code: a member without an organization, a short password', async () => {
    const noOrg = await runCli(['user', 'create', '--email', 'm@example.com', '--role', 'member'], env);
    assert.equal(noOrg.code, 2);
    assert.match(noOrg.stderr, /error INVALID_OPTION: --role member needs --org/);
    const short = await runCli(
      ['user', 'create', '--email', 'm@example.com', '--role', 'admin', '--password-stdin'],
      env,
      'short',
    );
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 10 characters/);
  });

  it('reset-password: a new generated password works and the old one does not; --link is a one-time link', async () => {
    const reset = await runCli(['user', 'reset-password', '--email', 'viewer@example.com', '--json'], env);
    assert.equal(reset.code, 0, reset.stderr);
    const { password } = JSON.parse(reset.stdout);
    assert.equal((await login('viewer@example.com', 'a viewer password')).status, 401);
    assert.equal((await login('viewer@example.com', password)).status, 200);
    const link = JSON.parse(
      (await runCli(['user', 'reset-password', '--email', 'viewer@example.com', '--link', '--json'], env)).stdout,
    ).link;
    const token = new URL(link).searchParams.get('token');
    const confirm = await fetch(`${postlog.url}/v2/password-reset/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, password: 'the newest password' }),
    });
    assert.equal(confirm.status, 200);
    assert.equal((await login('viewer@example.com', 'the newest password')).status, 200);
    const unknown = await runCli(['user', 'reset-password', '--email', 'nobody@example.com'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /error USER_NOT_FOUND/);
  });
});
