import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { exitCodeOf, isCliErrorCode } from '../../app/cli/error-catalogue.js';
import {
  baseEnv,
  runCli,
  startPostlogProcess,
  stopLeftoverPostlogProcesses,
  tempDataDir,
} from '../helpers/postlog-process.js';

/** What a new user trips over in the CLI (issue 21, item 7), against a real data dir and the real `postlog`. */
describe('postlog CLI for a newcomer', () => {
  const dataDir = tempDataDir('postlog-cli-newcomer-');
  let env: Record<string, string>;
  let init: { organizationId: string; serverId: string; apiKey: string };
  /**
   * Runs `postlog <args>`; fails the test when the exit code is not the expected one, or when a
   * failed command's error has no code of the catalogue or exits otherwise than the catalogue says.
   */
  const cli = async (args: string[], code = 0) => {
    const res = await runCli(args, env);
    assert.equal(res.code, code, `postlog ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    if (code !== 0) {
      const shown =
        /^error ([A-Z_0-9]+): /m.exec(res.stderr)?.[1] ?? /^\{"error":\{"code":"(\w+)"/m.exec(res.stderr)?.[1];
      assert.ok(isCliErrorCode(shown), `postlog ${args.join(' ')}: no catalogue code in ${JSON.stringify(res.stderr)}`);
      assert.equal(exitCodeOf(shown), code, `postlog ${args.join(' ')}: ${shown} exits ${exitCodeOf(shown)}`);
    }
    return res;
  };

  before(async () => {
    env = await baseEnv(dataDir);
    const first = await cli(['init', '--json']);
    init = JSON.parse(first.stdout) as typeof init;
    assert.deepEqual(Object.keys(init), ['organizationId', 'serverId', 'apiKey', 'smtp', 'adminToken', 'user']);
  });
  after(async () => {
    await stopLeftoverPostlogProcesses();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses an id that is not a UUID with exit code 2 and says what it must be, not a PostgreSQL error', async () => {
    const cases: [string[], string][] = [
      [['domain', 'list', '--server', 'not-a-uuid'], '--server must be a server id (a UUID)'],
      [['credential', 'list', '--server', 'srv_1'], '--server must be a server id (a UUID)'],
      [['domain', 'add', 'example.net', '--server', '42'], '--server must be a server id (a UUID)'],
      [['server', 'list', '--org', 'acme'], '--org must be an organization id (a UUID)'],
      [['credential', 'revoke', 'abc'], 'the credential id must be a credential id (a UUID)'],
      [['domain', 'rotate-dkim', 'example.com'], 'the domain id must be a domain id (a UUID)'],
    ];
    for (const [args, message] of cases) {
      const res = await cli(args, 2);
      assert.equal(res.stderr, `error INVALID_ID: ${message}\n`, args.join(' '));
      assert.doesNotMatch(res.stderr, /invalid input syntax|uuid:/);
    }
  });

  it('init a second time refuses (exit 2), says how to add a server or organization, and --force overrides', async () => {
    const again = await cli(['init'], 2);
    assert.match(again.stderr, /Postlog is already initialised/);
    assert.match(again.stderr, new RegExp(`postlog server create <name> --org ${init.organizationId}`));
    assert.match(again.stderr, /postlog org create <name>/);
    assert.match(again.stderr, /--force/);
    assert.equal(again.stdout, '');
    const orgs = JSON.parse((await cli(['org', 'list', '--json'])).stdout) as { id: string }[];
    assert.deepEqual(
      orgs.map((o) => o.id),
      [init.organizationId],
      'no second organization was created',
    );
    // the refusal closed the database: the next command does not find a PostgreSQL left running
    const next = await cli(['org', 'list', '--json']);
    assert.doesNotMatch(next.stderr, /adopting an embedded PostgreSQL/);

    const forced = JSON.parse((await cli(['init', '--force', '--json', '--organization', 'Second'])).stdout) as {
      organizationId: string;
    };
    assert.notEqual(forced.organizationId, init.organizationId);
    assert.equal((JSON.parse((await cli(['org', 'list', '--json'])).stdout) as unknown[]).length, 2);
  });

  it('domain add of a domain the server has says so and how to see its DNS records; show, verify and remove by name', async () => {
    await cli(['domain', 'add', 'newcomer.test', '--server', init.serverId]);
    const twice = await cli(['domain', 'add', 'Newcomer.TEST', '--server', init.serverId], 1);
    assert.match(twice.stderr, /newcomer\.test is already a domain of this server/);
    assert.match(twice.stderr, new RegExp(`postlog domain show newcomer\\.test --server ${init.serverId}`));

    const shown = await cli(['domain', 'show', 'newcomer.test', '--server', init.serverId]);
    assert.match(shown.stdout, /^newcomer\.test \([0-9a-f-]{36}\): not verified yet\n/);
    assert.match(shown.stdout, /TXT {3}_dmarc\.newcomer\.test/);
    const { id } = JSON.parse(
      (await cli(['domain', 'show', 'newcomer.test', '--server', init.serverId, '--json'])).stdout,
    ) as { id: string };

    // no DNS answers in tests (POSTLOG_DNS_SERVERS points nowhere): checked, not verified, exit 1
    const verify = await cli(['domain', 'verify', 'newcomer.test', '--server', init.serverId, '--json'], 1);
    const checked = JSON.parse(verify.stdout) as { verified: boolean; checks: { purpose: string; ok: boolean }[] };
    assert.equal(checked.verified, false);
    assert.deepEqual(
      checked.checks.map((c) => [c.purpose, c.ok]),
      [
        ['verification', false],
        ['spf', false],
        ['dkim', false],
        ['return-path', false],
        ['dmarc', false],
      ],
    );

    const unknown = await cli(['domain', 'remove', 'other.test', '--server', init.serverId], 1);
    assert.match(unknown.stderr, /other\.test is not a domain of server .* \(see postlog domain list --server /);
    const removed = await cli(['domain', 'remove', id, '--server', init.serverId]);
    assert.equal(removed.stdout, `removed newcomer.test (${id})\n`);
    assert.deepEqual(JSON.parse((await cli(['domain', 'list', '--server', init.serverId, '--json'])).stdout), []);

    const help = await cli(['domain', 'list', '--help']);
    assert.match(help.stdout, /--server is required/);
  });

  it('every command has a one-line description', async () => {
    const groups = [[], ['org'], ['server'], ['credential'], ['domain'], ['admin-token'], ['projections']];
    for (const group of groups) {
      const help = (await cli([...group, '--help'])).stdout;
      const commands = help.split('Commands:\n')[1];
      assert.ok(commands, `postlog ${group.join(' ')} --help lists commands`);
      for (const line of commands.split('\n').filter((l) => /^ {2}\S/.test(l))) {
        // "  name [options] <arg>   what it does": a command without a description is its usage alone
        assert.match(line, /^ {2}\S.*\S {2,}\S/, `postlog ${group.join(' ')}: "${line.trim()}" has no description`);
      }
    }
  });

  it('list commands print a table, and JSON only with --json', async () => {
    const lists: [string[], RegExp][] = [
      [['org', 'list'], /^ID +NAME +CREATED\n/],
      [['server', 'list', '--org', init.organizationId], /^ID +NAME +MODE +SUSPENDED +SEND LIMIT\/H\n/],
      [['credential', 'list', '--server', init.serverId], /^ID +KIND +NAME +IDENTIFIER +REVOKED +LAST USED\n/],
    ];
    for (const [args, header] of lists) {
      const text = (await cli(args)).stdout;
      assert.match(text, header, args.join(' '));
      assert.throws(() => JSON.parse(text), SyntaxError, `${args.join(' ')} prints JSON without --json`);
      assert.ok(Array.isArray(JSON.parse((await cli([...args, '--json'])).stdout)), `${args.join(' ')} --json`);
    }
    const servers = (await cli(['server', 'list', '--org', init.organizationId])).stdout;
    assert.match(servers, new RegExp(`^${init.serverId} +Live server +live +no +-$`, 'm'));
    await cli(['domain', 'add', 'table.test', '--server', init.serverId, '--verified']);
    const domains = (await cli(['domain', 'list', '--server', init.serverId])).stdout;
    assert.match(domains, /^ID +NAME +VERIFIED +DKIM SELECTORS +CREATED\n[0-9a-f-]{36} +table\.test +yes +\S+ +\S+\n$/);
  });
  it('commands that make or change one record print it for a person, and JSON only with --json', async () => {
    const uuid = '[0-9a-f-]{36}';
    const human = async (args: string[], expected: RegExp) => {
      const text = (await cli(args)).stdout;
      assert.match(text, expected, args.join(' '));
      assert.throws(() => JSON.parse(text), SyntaxError, `${args.join(' ')} prints JSON without --json`);
    };
    const json = async (args: string[]) =>
      JSON.parse((await cli([...args, '--json'])).stdout) as Record<string, unknown>;

    await human(
      ['org', 'create', 'Readable'],
      new RegExp(
        `^Created organization Readable\\n {2}id: {2}${uuid}\\nNext: postlog server create <name> --org ${uuid}\\n$`,
      ),
    );
    const org = await json(['org', 'create', 'Readable JSON']);
    assert.deepEqual(Object.keys(org), ['id', 'name', 'createdAt']);

    await human(
      ['server', 'create', 'Readable', '--org', init.organizationId, '--send-limit', '100'],
      /^Created live server Readable\n {2}id: +\S+\n {2}organization: +\S+\n {2}send limit: +100 messages per hour\n/,
    );
    const server = await json(['server', 'create', 'Readable JSON', '--org', init.organizationId]);
    assert.equal(server.name, 'Readable JSON');
    const serverId = server.id as string;
    await human(
      ['server', 'suspend', serverId, '--reason', 'unpaid'],
      new RegExp(
        `^Suspended server Readable JSON \\(${serverId}\\): unpaid; its API keys and SMTP logins are refused\\n$`,
      ),
    );
    assert.equal((await json(['server', 'unsuspend', serverId])).suspended, false);

    await human(
      ['credential', 'create', '--server', serverId],
      /^Created API key default for server \S+\n {2}id: +\S+\n {2}API key: +[A-Za-z0-9]{32}\nThe key is shown once/,
    );
    await human(
      ['credential', 'create', '--server', serverId, '--kind', 'smtp', '--name', 'app'],
      /^Created SMTP login app for server \S+\n {2}id: +\S+\n {2}username: +\S+\n {2}password: +\S+\n/,
    );
    await human(
      ['credential', 'create', '--server', serverId, '--kind', 'smtp-ip', '--cidr', '192.0.2.7/24'],
      /^Created SMTP-IP credential default for server \S+\n {2}id: +\S+\n {2}range: +192\.0\.2\.0\/24\n/,
    );
    await human(
      ['credential', 'create', '--server', serverId, '--kind', 'ses'],
      /^Created SES access key default for server \S+\n {2}id: +\S+\n {2}access key id: +PLKI[A-Z0-9]{16}\n {2}secret access key: +[A-Za-z0-9]{40}\n/,
    );
    const ses = await json(['credential', 'create', '--server', serverId, '--kind', 'ses', '--name', 'aws']);
    assert.match(ses.accessKeyId as string, /^PLKI[A-Z0-9]{16}$/);
    assert.match(ses.secretAccessKey as string, /^[A-Za-z0-9]{40}$/);
    assert.equal(ses.identifier, ses.accessKeyId);
    const key = await json(['credential', 'create', '--server', serverId]);
    assert.match(key.apiKey as string, /^[A-Za-z0-9]{32}$/);
    const revoked = (await cli(['credential', 'revoke', key.id as string])).stdout;
    assert.equal(revoked, `Revoked credential ${key.id}: it is refused from now on\n`);

    await human(
      ['admin-token', 'create', '--org', init.organizationId, '--name', 'ops'],
      new RegExp(
        `^Created admin token ops \\(for organization ${init.organizationId}\\)\\n {2}id: +\\S+\\n {2}token: +plt_`,
      ),
    );
    assert.match((await json(['admin-token', 'create'])).token as string, /^plt_/);

    await human(
      ['domain', 'add', 'readable.test', '--server', serverId],
      /^Added readable\.test \(not verified yet\)\. Publish these DNS records:\n {2}TXT {3}readable\.test\n/,
    );
    const domain = await json(['domain', 'show', 'readable.test', '--server', serverId]);
    await human(
      ['domain', 'rotate-dkim', domain.id as string],
      /^readable\.test signs with DKIM selector \S+ from now on\. Publish these DNS records/,
    );

    // send: a table of the accepted messages, and the command that follows them
    await cli(['domain', 'add', 'human.test', '--server', serverId, '--verified']);
    const args = ['send', '--server', serverId, '--from', 'a@human.test', '--to', 'x@example.org', '--subject', 's'];
    await human(
      [...args, '--text', 't'],
      new RegExp(
        '^MESSAGE +TO +STATUS\\n\\S+ +x@example\\.org +queued\\n' +
          `Accepted\\. .*postlog messages list --server ${serverId}\\n$`,
      ),
    );
  });

  it('errors are `error CODE: message` (usage errors exit 2), or JSON on stderr with --json', async () => {
    const usage: [string[], string][] = [
      [['frobnicate'], 'UNKNOWN_COMMAND'],
      [['org', 'list', '--bogus'], 'UNKNOWN_OPTION'],
      [['org', 'create'], 'MISSING_ARGUMENT'],
      [['server', 'list'], 'MISSING_OPTION'],
      [['server', 'list', '--org'], 'MISSING_OPTION_VALUE'],
      [['org', 'create', 'a', 'b'], 'EXCESS_ARGUMENTS'],
      [['credential', 'create', '--server', init.serverId, '--kind', 'ftp'], 'INVALID_OPTION'],
      [
        ['credential', 'create', '--server', init.serverId, '--kind', 'smtp-ip', '--cidr', '0.0.0.0/0'],
        'INVALID_OPTION',
      ],
      [['credential', 'create', '--server', init.serverId, '--kind', 'smtp-ip'], 'INVALID_OPTION'],
      [['projections', 'verify', 'no-such-projection'], 'UNKNOWN_PROJECTION'],
      [['domain'], 'MISSING_COMMAND'],
    ];
    for (const [args, code] of usage) {
      const res = await cli(args, 2);
      assert.match(res.stderr, new RegExp(`^error ${code}: \\S.*\\n$`, 'm'), args.join(' '));
      assert.doesNotMatch(res.stderr, /^error: /m, `commander's own message is not printed as well: ${args.join(' ')}`);
    }
    const usageJson = await cli(['domain', 'list', '--server', 'nope', '--json'], 2);
    assert.deepEqual(JSON.parse(usageJson.stderr), {
      error: { code: 'INVALID_ID', message: '--server must be a server id (a UUID)' },
    });
    assert.equal(usageJson.stdout, '');
    const failed = await cli(['domain', 'show', 'nowhere.test', '--server', init.serverId, '--json'], 1);
    assert.equal((JSON.parse(failed.stderr) as { error: { code: string } }).error.code, 'DOMAIN_NOT_FOUND');
    // --help and --version are answers, not errors
    assert.match((await cli(['--version'])).stdout, /^\d+\.\d+\.\d+/);
    assert.equal((await cli(['org', '--help'])).stderr, '');
  });

  it('send goes through the accept path of the API, and messages list shows what was sent', async () => {
    await cli(['domain', 'add', 'send.test', '--server', init.serverId, '--verified']);
    const unverified = await cli(
      [
        'send',
        '--server',
        init.serverId,
        '--from',
        'a@elsewhere.test',
        '--to',
        'x@example.org',
        '--subject',
        's',
        '--text',
        't',
      ],
      1,
    );
    assert.equal(
      unverified.stderr,
      'error UNAUTHENTICATED_FROM_ADDRESS: elsewhere.test is not a verified domain of this server\n',
    );
    const badTo = await cli(
      ['send', '--server', init.serverId, '--from', 'a@send.test', '--to', 'nobody', '--subject', 's', '--text', 't'],
      1,
    );
    assert.match(badTo.stderr, /^error VALIDATION_FAILED: to\[0\]/);

    const running = await startPostlogProcess(env);
    try {
      const sent = await cli([
        'send',
        '--server',
        init.serverId,
        '--from',
        'Newcomer <hello@send.test>',
        '--to',
        'one@example.org',
        'two@example.org',
        '--subject',
        'First message',
        '--text',
        'hello',
        '--json',
      ]);
      const accepted = JSON.parse(sent.stdout) as {
        batch_id: string;
        messages: { id: string; to: string; status: string }[];
      };
      assert.deepEqual(
        accepted.messages.map((m) => [m.to, m.status]),
        [
          ['one@example.org', 'queued'],
          ['two@example.org', 'queued'],
        ],
      );
      // the running server's read API sees the messages the CLI accepted
      const admin = (await cli(['admin-token', 'create', '--json'])).stdout;
      const token = (JSON.parse(admin) as { token: string }).token;
      let listed: { id: string; to: string; subject: string }[] = [];
      for (let i = 0; i < 100 && listed.length < 2; i++) {
        const res = await fetch(`${running.url}/v2/messages?serverId=${init.serverId}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        listed = ((await res.json()) as { messages: typeof listed }).messages;
        if (listed.length < 2) await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(listed.map((m) => m.id).sort(), accepted.messages.map((m) => m.id).sort());
      const text = (await cli(['messages', 'list', '--server', init.serverId])).stdout;
      assert.match(text, /^ID +ACCEPTED +FROM +TO +STATUS +SUBJECT\n/);
      assert.match(text, /one@example\.org +\S+ +First message$/m);
      const json = JSON.parse(
        (await cli(['messages', 'list', '--server', init.serverId, '--json'])).stdout,
      ) as unknown[];
      assert.equal(json.length, 2);
    } finally {
      running.child.kill('SIGINT');
      assert.equal(await running.exited, 0);
    }
  });
});
