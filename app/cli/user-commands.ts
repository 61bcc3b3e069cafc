import type { Command } from 'commander';
import { Email, OrgRole, type User } from '../../domain/index.js';
import {
  hashPassword,
  passwordProblem,
  publicUser,
  type SessionStore,
  type UserStore,
  type UserTokenStore,
} from '../../infra/accounts/index.js';
import { randomToken } from '../../infra/tenancy/secrets.js';
import type { Config } from '../../infra/config/index.js';
import { cliError } from './errors.js';
import { idOf, printJson, record, table } from './output.js';

export interface Accounts {
  users: UserStore;
  tokens: UserTokenStore;
  sessions: SessionStore;
}

type WithAccounts = (work: (accounts: Accounts, config: Config) => Promise<void>) => Promise<void>;

/** A password to show once: 24 base62 characters (~143 bits). */
export const generatedPassword = () => randomToken(24);

/** The whole of standard input, without its final line end (`echo pw | postlog user create --password-stdin`). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function emailOf(value: string): string {
  const parsed = Email.safeParse(value);
  if (!parsed.success) cliError('INVALID_OPTION', `--email: ${value} is not an email address`);
  return parsed.data;
}

async function passwordFrom(stdin: boolean | undefined): Promise<{ password: string; generated: boolean }> {
  if (!stdin) return { password: generatedPassword(), generated: true };
  const password = await readStdin();
  const problem = passwordProblem(password);
  if (problem) cliError('INVALID_OPTION', `--password-stdin: ${problem}`);
  return { password, generated: false };
}

const userLine = (u: User) =>
  u.globalAdmin
    ? 'global admin'
    : u.memberships.map((m) => `${m.role} of ${m.organizationName}`).join(', ') || 'no role';

/**
 * The global admin `postlog init` makes on a fresh install (once: not when a user exists), so the
 * dashboard can be used at once; its password is shown once.
 */
export async function createFirstAdmin(
  users: UserStore,
  email: string,
): Promise<{ email: string; password: string } | undefined> {
  if ((await users.count()) > 0) return undefined;
  const password = generatedPassword();
  const created = await users.create({ email, passwordHash: await hashPassword(password), globalAdmin: true });
  if (!created.ok) cliError(created.error.code, created.error.message);
  return { email, password };
}

/** `postlog user …`: dashboard users from the command line (the first admin, a lost password). */
export function registerUserCommands(program: Command, withAccounts: WithAccounts): void {
  const user = program.command('user').description('dashboard users');
  const orgId = idOf('--org', 'an organization id');

  user
    .command('create')
    .description('create a user: --role admin without --org is a global admin; the password is generated unless given')
    .requiredOption('--email <email>', 'the login')
    .requiredOption('--role <role>', 'admin, member or viewer')
    .option('--org <id>', 'the organization the role is in', orgId)
    .option('--password-stdin', 'read the password from standard input instead of generating one')
    .option('--json', 'print JSON')
    .action(async (opts: { email: string; role: string; org?: string; passwordStdin?: boolean; json?: boolean }) => {
      const email = emailOf(opts.email);
      const role = OrgRole.safeParse(opts.role);
      if (!role.success) cliError('INVALID_OPTION', `--role: ${opts.role} is not admin, member or viewer`);
      if (!opts.org && role.data !== 'admin')
        cliError('INVALID_OPTION', `--role ${role.data} needs --org <id> (only an admin can be global)`);
      const { password, generated } = await passwordFrom(opts.passwordStdin);
      await withAccounts(async ({ users }) => {
        const created = await users.create({
          email,
          passwordHash: await hashPassword(password),
          globalAdmin: !opts.org,
          membership: opts.org ? { organizationId: opts.org, role: role.data } : undefined,
        });
        if (!created.ok) {
          if (created.error.code === 'CONFLICT') cliError('USER_EXISTS', created.error.message);
          cliError(created.error.code, created.error.message);
        }
        const u = publicUser(created.value);
        if (opts.json) return printJson({ user: u, ...(generated ? { password } : {}) });
        void process.stdout.write(
          record(
            `Created user ${u.email} (${userLine(u)})`,
            [['id', u.id], ...(generated ? ([['password', `${password}  (shown once)`]] as [string, string][]) : [])],
            ['Log in at the dashboard (/login); change the password there.'],
          ),
        );
      });
    });

  user
    .command('list')
    .description('list users (a table; JSON with --json)')
    .option('--org <id>', 'only the users with a role in this organization', orgId)
    .option('--json', 'print JSON')
    .action(async (opts: { org?: string; json?: boolean }) =>
      withAccounts(async ({ users }) => {
        const all = (await users.list(opts.org)).map(publicUser);
        if (opts.json) return printJson(all);
        void process.stdout.write(
          table(
            all,
            [
              { header: 'id', value: (u) => u.id },
              { header: 'email', value: (u) => u.email },
              { header: 'roles', value: userLine },
              { header: '2FA', value: (u) => (u.totpEnabled ? 'yes' : 'no') },
              { header: 'disabled', value: (u) => (u.disabled ? 'yes' : '') },
            ],
            'no users (postlog user create --email <email> --role admin)',
          ),
        );
      }),
    );

  user
    .command('reset-password')
    .description("set a user's password (generated, or from standard input), or print a reset link with --link")
    .requiredOption('--email <email>', 'the login')
    .option('--password-stdin', 'read the new password from standard input')
    .option('--link', 'print a one-time link to set a new password instead')
    .option('--json', 'print JSON')
    .action(async (opts: { email: string; passwordStdin?: boolean; link?: boolean; json?: boolean }) => {
      const email = emailOf(opts.email);
      const chosen = opts.link ? undefined : await passwordFrom(opts.passwordStdin);
      await withAccounts(async ({ users, tokens, sessions }, config) => {
        const u = await users.byEmail(email);
        if (!u) cliError('USER_NOT_FOUND', `no user ${email} (postlog user list)`);
        if (!chosen) {
          const now = new Date();
          const token = await tokens.issue(
            {
              kind: 'password-reset',
              email,
              userId: u.id,
              organizationId: null,
              role: null,
              createdBy: 'cli',
              expiresAt: new Date(now.getTime() + config.accountLinkHours * 3_600_000),
            },
            now,
          );
          const link = `${config.publicUrl ?? `http://${config.httpHost}:${config.httpPort}`}/reset?token=${token}`;
          if (opts.json) return printJson({ email, link, validHours: config.accountLinkHours });
          return void process.stdout.write(
            `Reset link for ${email} (valid ${config.accountLinkHours} hours, once):\n  ${link}\n`,
          );
        }
        await users.setPassword(u.id, await hashPassword(chosen.password));
        const ended = await sessions.closeAll(u.id);
        if (opts.json)
          return printJson({ email, ...(chosen.generated ? { password: chosen.password } : {}), sessionsEnded: ended });
        void process.stdout.write(
          record(
            `New password for ${email}; ${ended} session${ended === 1 ? '' : 's'} ended`,
            chosen.generated ? [['password', `${chosen.password}  (shown once)`]] : [],
          ),
        );
      });
    });
}
