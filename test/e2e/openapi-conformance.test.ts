/**
 * The OpenAPI document (/docs/json) against the running API, by schemathesis (PyPI): it generates
 * requests from the document — valid and invalid — and fails on any 5xx, any status or body the
 * document does not declare, a wrong content type, and a method the document does not list that is
 * not answered 405. Run once for every kind of authentication a request can carry: a global admin token, an
 * organization's admin token, a server's API key, a dashboard session (cookie and CSRF token). Bounded: at most
 * a number of cases per operation (POSTLOG_SCHEMATHESIS_EXAMPLES) and a deadline per run.
 * .ci/run installs schemathesis, so CI never skips this; without it, the test says so and skips.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemActor } from '../../domain/index.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';

const PYTHON = process.env.POSTLOG_TEST_PYTHON ?? 'python3';
const installed = spawnSync(PYTHON, ['-c', 'import schemathesis'], { stdio: 'ignore' }).status === 0;
const skip = installed
  ? false
  : `schemathesis is not installed (${PYTHON} -m pip install schemathesis; .ci/run installs it)`;

/** What the document promises, and the 405 of item 11. Not the checks Postal's API breaks on purpose (200 for a missing key). */
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'response_schema_conformance',
  'content_type_conformance',
  'unsupported_method',
];
const SESSION_PASSWORD = 'fuzz-session-password-1';
const EXAMPLES = process.env.POSTLOG_SCHEMATHESIS_EXAMPLES ?? '25';
/** Fixed, so a run is repeatable; set POSTLOG_SCHEMATHESIS_SEED to explore other cases. */
const SEED = process.env.POSTLOG_SCHEMATHESIS_SEED ?? '20';
/**
 * Each kind of authentication gets two runs. Coverage (schemathesis's examples and coverage phases): every
 * operation's boundary and invalid cases, bounded by cases, not time (killed past POSTLOG_SCHEMATHESIS_DEADLINE
 * seconds, default 280, under the runner's 300 s a test). Fuzzing: random cases for a fixed time
 * (--max-time POSTLOG_SCHEMATHESIS_SECONDS, default 20), so a loaded machine runs fewer of them instead of timing
 * out. One run of both phases with --max-time cut the coverage short on a loaded machine (82 of 103 operations in
 * 45 s); one bounded by cases alone passed its 240 s deadline when 8 suites shared 2 cores.
 */
const COVERAGE_DEADLINE_MS = Number(process.env.POSTLOG_SCHEMATHESIS_DEADLINE ?? '280') * 1000;
const FUZZ_SECONDS = Number(process.env.POSTLOG_SCHEMATHESIS_SECONDS ?? '20');
type Phase = 'coverage' | 'fuzzing';

interface Report {
  failures: { code: string; title: string; operations: string[] }[];
  errors: { title: string; count: number }[];
  test_cases: { generated: number };
  running_time: number;
}

/** One schemathesis run with these request headers; its JSON report and its printed output. */
async function schemathesis(
  url: string,
  phase: Phase,
  headers: string[],
  excluded: string[] = [],
): Promise<{ report: Report; output: string }> {
  const deadlineMs = phase === 'coverage' ? COVERAGE_DEADLINE_MS : (FUZZ_SECONDS + 90) * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'postlog-schemathesis-'));
  try {
    const args = [
      '-m',
      'schemathesis.cli',
      'run',
      `${url}/docs/json`,
      '--url',
      url,
      ...headers.flatMap((h) => ['-H', h]),
      ...excluded.flatMap((name) => ['--exclude-name', name]),
      '--checks',
      CHECKS.join(','),
      '--max-examples',
      EXAMPLES,
      '--seed',
      SEED,
      ...(phase === 'coverage'
        ? ['--phases', 'examples,coverage']
        : ['--phases', 'fuzzing', '--max-time', String(FUZZ_SECONDS)]),
    ];
    // one worker: hypothesis in threads trips over CPython 3.11's ast.parse ("AST constructor recursion depth mismatch")
    args.push('--workers', '1', '--request-timeout', '20', '--no-color', '--report', 'json', '--report-dir', dir);
    // in its own folder: schemathesis and hypothesis keep caches (.schemathesis, .hypothesis) in the working directory
    const child = spawn(PYTHON, args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    await new Promise((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    assert.ok(file, `schemathesis wrote no report (killed after ${deadlineMs / 1000} s?):\n${output.slice(-4000)}`);
    return { report: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Report, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The printed FAILURES section: each case with its response and a curl line to reproduce it. */
const failuresOf = (output: string) =>
  output.slice(output.indexOf('= FAILURES ='), output.indexOf('= SUMMARY =')).slice(0, 20_000);

function assertConforms({ report, output }: { report: Report; output: string }, as: string, phase: Phase) {
  // coverage makes several cases for each of ~100 operations; fuzzing, however loaded the machine, some
  const least = phase === 'coverage' ? 100 : 20;
  assert.ok(report.test_cases.generated > least, `${as}: schemathesis ran too few cases:\n${output.slice(-4000)}`);
  assert.deepEqual(
    report.failures.map((f) => `${f.code} ${f.title}: ${f.operations.join(', ')}`),
    [],
    `${as}: the API breaks its OpenAPI document:\n${failuresOf(output)}`,
  );
  // its own generator can trip over a schema ("Runtime Error", flaky data generation); a network
  // error means Postlog stopped answering
  const other = report.errors.filter((e) => e.title !== 'Runtime Error');
  assert.deepEqual(other, [], `${as}: schemathesis could not test the API:\n${output.slice(-6000)}`);
}

describe('the OpenAPI document holds for every route (schemathesis)', { skip }, () => {
  let t: TestApp;
  let tenant: Tenant;
  let globalToken: string;
  let session: { cookie: string; csrf: string } | undefined;
  /**
   * A user and its session made just before the session's run: the admin runs before it list users and use what
   * they find (an earlier user had its password or state changed, and its login failed).
   */
  const login = async () => {
    const user = await http(t.url, 'POST', '/v2/users', {
      body: { email: 'fuzz-session@example.com', password: SESSION_PASSWORD, globalAdmin: true },
      headers: { authorization: `Bearer ${globalToken}` },
    });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const res = await http(t.url, 'POST', '/v2/session', {
      body: { email: 'fuzz-session@example.com', password: SESSION_PASSWORD },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    session = { cookie: (res.headers.get('set-cookie') ?? '').split(';')[0]!, csrf: res.body.csrfToken };
    assert.match(session.cookie, /^postlog_session=/);
    return [`Cookie: ${session.cookie}`, `X-CSRF-Token: ${session.csrf}`];
  };

  before(async () => {
    // account mail set up, as in production: without it POST /v2/password-reset answers 503 ACCOUNT_MAIL_OFF,
    // declared but a 5xx, which the session's run reached with its user's address
    t = await startTestApp({ POSTLOG_ROLES: 'api', POSTLOG_ACCOUNT_MAIL_FROM: 'postlog@sender.test' });
    tenant = await createTenant(t.app);
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), {
      name: 'schemathesis',
      organizationId: null,
    });
    assert.ok(token.ok);
    globalToken = token.value.secret;
  });
  after(async () => {
    await t?.stop();
  });

  /**
   * The kinds of authentication a request can carry: the headers of each, operations its runs leave out, and its
   * phases. Coverage (~40 s idle, 150 s on a loaded machine) for the two kinds whose operations differ (admin
   * routes, server routes); an organization's token and a session reach the admin routes with other rights, and
   * get the time-boxed fuzzing.
   */
  const kinds: { as: string; headers: () => string[] | Promise<string[]>; excluded?: string[]; phases: Phase[] }[] = [
    {
      as: 'a global admin token',
      headers: () => [`Authorization: Bearer ${globalToken}`],
      phases: ['coverage', 'fuzzing'],
    },
    {
      as: "a server's API key",
      headers: () => [`X-Server-API-Key: ${tenant.apiKey}`],
      phases: ['coverage', 'fuzzing'],
    },
    {
      as: "an organization's admin token",
      headers: () => [`Authorization: Bearer ${tenant.adminToken}`],
      phases: ['fuzzing'],
    },
    {
      as: 'a dashboard session (cookie and CSRF token)',
      headers: login,
      // logging out, or the global admin disabling itself (it finds its own id in GET /v2/users), would leave the
      // rest of the run without its session
      excluded: ['DELETE /v2/session', 'POST /v2/session/logout-everywhere', 'POST /v2/users/{id}/disable'],
      phases: ['fuzzing'],
    },
  ];
  for (const kind of kinds) {
    for (const phase of kind.phases) {
      it(`as ${kind.as}, ${phase}: no 5xx, no undeclared status, bodies as declared, 405 for undeclared methods`, async () => {
        const started = Date.now();
        assertConforms(await schemathesis(t.url, phase, await kind.headers(), kind.excluded), kind.as, phase);
        console.log(`# schemathesis as ${kind.as}, ${phase}: ${Math.round((Date.now() - started) / 1000)} s`);
      });
    }
  }

  it('the session lasted its run (its cases were not all 401s)', async () => {
    assert.ok(session, 'the session run ran');
    const still = await http(t.url, 'GET', '/v2/session', { headers: { cookie: session.cookie } });
    assert.equal(still.status, 200);
  });
});

/** What schemathesis found (each was a 500 or an undeclared answer), pinned so that no seed has to find it again. */
describe('answers schemathesis found wrong, pinned', () => {
  let t: TestApp;
  let tenant: Tenant;
  let admin: Record<string, string>;

  before(async () => {
    t = await startTestApp({ POSTLOG_ROLES: 'api' });
    tenant = await createTenant(t.app);
    const token = await t.app.tenancy.createAdminToken(systemActor('test'), { name: 'pinned', organizationId: null });
    assert.ok(token.ok);
    admin = { authorization: `Bearer ${token.value.secret}` };
  });
  after(async () => {
    await t?.stop();
  });

  const inject = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    t.app.http.inject({
      method,
      url,
      headers: admin,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  it('values PostgreSQL cannot take are 400, not a database error (500)', async () => {
    const id = tenant.server.id;
    const tooBig = 9_007_199_254_740_990;
    for (const [what, res] of [
      [
        'a NUL in a JSON body',
        await inject('POST', `/v2/servers/${id}/routes`, {
          address: 'a\u0000b@sender.test',
          endpointUrl: 'https://example.com/hook',
        }),
      ],
      [
        'a send limit past a PostgreSQL integer (create)',
        await inject('POST', `/v2/organizations/${tenant.organizationId}/servers`, {
          name: 'x',
          sendLimitPerHour: tooBig,
        }),
      ],
      [
        'a send limit past a PostgreSQL integer (change)',
        await inject('PATCH', `/v2/servers/${id}`, { sendLimitPerHour: tooBig }),
      ],
      [
        'a delivery cursor past bigint',
        await inject('GET', `/v2/webhooks/00000000-0000-1000-8000-000000000000/deliveries?cursor=9999999999999999999`),
      ],
      [
        'a delivery cursor that is not a number',
        await inject('GET', `/v2/webhooks/00000000-0000-1000-8000-000000000000/deliveries?cursor=null`),
      ],
      ['an audit page past bigint', await inject('GET', '/v2/audit?before=100000000000000000000')],
      ['a date in year 0', await inject('GET', '/v2/stats?since=0000-12-31')],
      ['a time in year 0', await inject('GET', '/v2/messages?since=0000-01-01T00:00:00Z')],
    ] as const) {
      assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
      assert.equal(res.json().code, 'VALIDATION_FAILED', what);
    }
  });

  it('an offset PostgreSQL refuses (+17:46) is still the instant it names', async () => {
    const res = await inject('GET', `/v2/messages?since=${encodeURIComponent('0295-10-20T23:09:32+17:46')}`);
    assert.equal(res.statusCode, 200, res.body);
  });

  it('a 204 is documented without a body', async () => {
    const doc = (await inject('GET', '/docs/json')).json() as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
    };
    const deleted = doc.paths['/v2/credentials/{id}']!.delete!.responses['204']!;
    assert.equal(deleted.content, undefined);
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.keys(operation.responses);
        assert.ok(
          statuses.some((s) => s.startsWith('2')),
          `${method} ${path} declares its success`,
        );
        // public documents that take no input cannot be asked wrongly
        if (!path.startsWith('/api/v1/') && !['/.well-known/jwks.json', '/v2/session/methods'].includes(path))
          assert.ok(
            statuses.includes('400') || statuses.includes('401'),
            `${method} ${path} declares its errors: ${statuses}`,
          );
      }
    }
  });
});
