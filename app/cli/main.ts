#!/usr/bin/env node
// first: the heap settings apply before the modules below fill the heap
import '../../infra/runtime/gc-settings.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, roleNames, type Config } from '../../infra/config/index.js';
import { createLogger, logNodeWarnings, type Logger } from '../../infra/logging/index.js';
import {
  CreateCredential,
  CreateServer,
  Email,
  evolve,
  initialState,
  messageEventCodec,
  type Result,
} from '../../domain/index.js';
import { outboxProjections, projectionNamed, projections } from '../../projections/registry.js';
import {
  LAG_COUNT_LIMIT,
  projectionLagSeconds,
  projectionStatus,
  rebuildProjections,
  verifyProjection,
} from '../../projections/maintenance.js';
import { eventJsonSchemaFiles } from '../../projections/kafka/json-schemas.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { eventStoreFor, projectionFiltersFor, projectionNamesFor } from '../adapters.js';
import { startPostlog } from '../postlog.js';
import { isSupervised, SupervisorLink } from '../cluster/supervisor-link.js';
import { planProcesses } from '../cluster/process-plan.js';
import { processCount, Supervisor } from '../cluster/supervisor.js';
import { systemActor, type Domain, type TenancyError } from '../../domain/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { buildServices, secretBoxOf, tenancyStoreFor } from '../services.js';
import { createMetrics } from '../../infra/metrics/index.js';
import { createResolver } from '../../infra/dns/resolver.js';
import { systemClock } from '../../infra/clock/index.js';
import { runBlocklistChecks } from '../../write-side/deliverability/blocklist-checks.js';
import { blocklistSettings } from '../blocklist-settings.js';
import { checkDnsRecords } from '../../write-side/admin/domain-verification.js';
import { startDevSink } from './dev-sink.js';
import { createFirstAdmin, registerUserCommands, type Accounts } from './user-commands.js';
import { registerPostalImportCommand } from './postal-import-command.js';
import { registerBackupCommands } from './backup-commands.js';
import { registerSecretsCommands } from './secrets-commands.js';
import { registerTlsReportCommands } from './tls-report-commands.js';
import { SessionStore, UserStore, UserTokenStore } from '../../infra/accounts/index.js';
import { isCliErrorCode } from './error-catalogue.js';
import { callApiAsServer, type ApiAnswer } from './in-process-api.js';
import { asCliError, cliError, printError } from './errors.js';
import { registerReputationCommands } from './reputation-commands.js';
import { idOf, isId, portOf, printJson, table, type Column } from './output.js';
import {
  adminTokenCreated,
  credentialCreated,
  dkimRotated,
  dnsRecords,
  organizationCreated,
  serverCreated,
  serverSuspension,
} from './records.js';
import { migrate, openDatabase } from '../../infra/postgres/index.js';
import type { SecretBox } from '../../infra/secrets/index.js';
import { version } from '../../infra/version.js';
import { runRetention } from '../../write-side/retention/retention-job.js';

/** Exit codes: 0 ok; an error's from the catalogue (error-catalogue.ts): 1 a failure, 2 usage or configuration. */
function configure(
  overrides: Partial<Record<keyof Config, unknown>> = {},
  fd: 1 | 2 = 1,
): { config: Config; logger: Logger; warnings: string[] } {
  try {
    const warnings: string[] = [];
    const config = loadConfig({ overrides, warnings });
    const logger = createLogger({ level: config.logLevel, format: config.logFormat, fd });
    logNodeWarnings(logger);
    return { config, logger, warnings };
  } catch (err) {
    // INVALID_CONFIG (exit 2), printed by main like every other error
    if (err instanceof ConfigError) cliError(err.code, err.message);
    throw err;
  }
}

async function withDatabase<T>(
  overrides: Partial<Record<keyof Config, unknown>>,
  work: (db: Awaited<ReturnType<typeof openDatabase>>, logger: Logger, config: Config) => Promise<T>,
): Promise<T> {
  // stdout carries the command's answer (often JSON); logs go to stderr
  const { config, logger } = configure({ logLevel: process.env.POSTLOG_LOG_LEVEL ?? 'warn', ...overrides }, 2);
  const db = await openDatabase(config, logger);
  try {
    await migrate(db.pool, logger);
    return await work(db, logger, config);
  } finally {
    await db.close();
  }
}

const program = new Command()
  .name('postlog')
  .description('Postlog: self-hosted, event-sourced email delivery')
  .version(version)
  // commander's errors are the catalogue's (errors.ts), printed by main as every other error; set
  // before the commands are made: each copies these settings from its parent
  .exitOverride()
  .configureOutput({ outputError: () => undefined });

program
  .command('start')
  .description('run Postlog (all roles by default) until SIGINT/SIGTERM')
  .option('--roles <list>', `comma-separated roles to run (${roleNames.join(',')})`)
  .option(
    '--processes <n>',
    'Node processes to run the roles in: a number, or auto for one per CPU (POSTLOG_PROCESSES)',
  )
  .action(async (opts: { roles?: string; processes?: string }) => {
    const { config, logger: baseLogger, warnings } = configure({ roles: opts.roles, processes: opts.processes });
    const name = process.env.POSTLOG_PROCESS_NAME;
    const logger = isSupervised() && name ? baseLogger.child({ process: name }) : baseLogger;
    // said once, by the process an operator started (not again by each supervised process)
    if (!isSupervised()) for (const warning of warnings) logger.warn(warning);
    const plan = planProcesses(config.roles, isSupervised() ? 1 : processCount(config.processes));
    const supervisor = plan.length > 1 ? new Supervisor(config, logger, plan, process.argv[1]!) : undefined;
    // the embedded PostgreSQL may stop within 30 s once the processes are done (see EmbeddedPostgres.stop)
    const graceMs = config.shutdownTimeoutMs + (supervisor ? 35_000 : 0);
    /** Set once there is something to stop; a supervisor can be stopped during start-up already. */
    let stop: (() => Promise<void>) | undefined = supervisor && (() => supervisor.stop(config.shutdownTimeoutMs));
    let firstSignalAt = 0;
    const shutdown = (signal: string) => {
      if (firstSignalAt > 0) {
        // `npm start` forwards the terminal's Ctrl-C, so one keypress can arrive twice (and a
        // supervised process gets it from the terminal and from its supervisor): only a signal
        // well after the first means "stop waiting".
        if (Date.now() - firstSignalAt < 1500) return;
        logger.warn(`${signal} again: exiting without waiting for in-flight work`);
        process.exit(130);
      }
      firstSignalAt = Date.now();
      logger.info({ signal }, 'signal received');
      if (!stop) process.exit(130); // still starting, nothing running yet to finish
      const timer = setTimeout(() => {
        logger.error({ timeoutMs: graceMs }, 'shutdown took too long; exiting');
        process.exit(1);
      }, graceMs);
      timer.unref();
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    try {
      if (supervisor) {
        const started = performance.now();
        await supervisor.start();
        logger.info(
          {
            http: supervisor.httpUrl,
            processes: plan.map((p) => `${p.name} (${p.roles.join(',')})`),
            ms: Math.round(performance.now() - started),
            version,
          },
          `Postlog is up in ${plan.length} processes: ${supervisor.httpUrl}/health, API docs at ${supervisor.httpUrl}/docs${config.roles.includes('smtp') ? `, SMTP submission on ${config.smtpHost}:${config.submissionPort} (STARTTLS) and :${config.submissionTlsPort} (TLS)` : ''}`,
        );
      } else {
        const link = isSupervised() ? new SupervisorLink() : undefined;
        const app = await startPostlog(
          config,
          logger,
          link && {
            metricsText: () => link.metricsText(),
            everyProcessReady: () => link.everyProcessReady,
            databaseKind: link.databaseKind,
            processName: name,
          },
        );
        link?.ready(app.httpUrl, app.metrics.registry);
        // (a supervised process whose supervisor is killed exits at once: Node's cluster module does that)
        stop = () => app.stop();
      }
    } catch (err) {
      if (firstSignalAt > 0) return; // stopped during start-up: shutdown() finishes and exits
      // a catalogue code (PORTS_UNAVAILABLE, …) leads the message: what to look up in docs/errors.md
      const own = (err as { code?: unknown }).code;
      const code = isCliErrorCode(own) ? own : 'START_FAILED';
      const cause = `${code === 'START_FAILED' ? '' : `${code}: `}${(err as Error).message}`;
      logger.fatal({ err, code }, `Postlog could not start: ${cause}`);
      // the processes that did start, and the embedded database, stop too
      await supervisor?.stop(config.shutdownTimeoutMs).catch(() => undefined);
      logger.flush?.();
      process.exit(1);
    }
  });

program
  .command('migrate')
  .description('apply database migrations and exit')
  .action(async () => {
    await withDatabase({ logLevel: process.env.POSTLOG_LOG_LEVEL ?? 'info' }, async (db) => {
      const { rows } = await db.pool.query<{ version: number }>(
        'SELECT max(version) AS version FROM postlog_migrations',
      );
      process.stdout.write(`schema is at version ${rows[0]?.version ?? 0}\n`);
    });
  });

program
  .command('init')
  .description('create the database schema and a first organization, live server, API key, SMTP login and admin token')
  .option('--json', 'print the result as one JSON object')
  .option('--organization <name>', 'name of the organization', 'My organization')
  .option('--server <name>', 'name of the server', 'Live server')
  .option('--force', 'create another organization even though Postlog is already initialised')
  .option('--admin-email <email>', "the dashboard's first global admin (made once, when there is no user yet)")
  .action(
    async (opts: { json?: boolean; organization: string; server: string; force?: boolean; adminEmail?: string }) => {
      await withTenancy(async (tenancy, config, pool, secrets) => {
        const actor = systemActor('cli:init');
        const existing = await tenancy.listOrganizations(actor);
        if (existing.length > 0 && !opts.force)
          cliError(
            'ALREADY_INITIALISED',
            `Postlog is already initialised (${existing.length} organization${existing.length === 1 ? '' : 's'}: ${existing.map((o) => `${o.name} ${o.id}`).join(', ')}).\n` +
              `  another server:       postlog server create <name> --org ${existing[0]!.id}\n` +
              '  another organization: postlog org create <name>\n' +
              '  a new API key:        postlog credential create --server <server-id>\n' +
              '  list them:            postlog org list; postlog server list --org <org-id>\n' +
              '  (postlog init --force creates a second organization with its own server and secrets anyway)',
          );
        const org = must(await tenancy.createOrganization(actor, { name: opts.organization }));
        const server = must(await tenancy.createServer(actor, org.id, CreateServer.parse({ name: opts.server })));
        const api = must(await tenancy.createCredential(actor, server.id, { kind: 'api', name: 'default' }));
        const smtp = must(await tenancy.createCredential(actor, server.id, { kind: 'smtp', name: 'default' }));
        const admin = must(await tenancy.createAdminToken(actor, { name: 'init', organizationId: org.id }));
        const user = await createFirstAdmin(
          new UserStore(pool, secrets),
          firstAdminEmail(opts.adminEmail, config.hostname),
        );
        const result = {
          organizationId: org.id,
          serverId: server.id,
          apiKey: api.secret,
          smtp: { username: smtp.credential.identifier, password: smtp.secret },
          adminToken: admin.secret,
          ...(user ? { user } : {}),
        };
        if (opts.json) printJson(result);
        else {
          process.stdout.write(
            `Created organization ${org.id}, live server ${server.id}.\n` +
              `API key:      ${result.apiKey}\nSMTP login:   ${result.smtp.username} / ${result.smtp.password}\nAdmin token:  ${result.adminToken}\n` +
              (user ? `Dashboard:    ${user.email} / ${user.password} (a global admin; log in at /login)\n` : '') +
              `These secrets are shown once. Next: postlog domain add <your-domain> --server ${server.id}\n`,
          );
        }
      });
    },
  );

const serverId = idOf('--server', 'a server id');
const orgId = idOf('--org', 'an organization id');

const org = program.command('org').description('organizations');
org
  .command('create <name>')
  .description('create an organization')
  .option('--json', 'print JSON')
  .action(async (name: string, opts: { json?: boolean }) =>
    withTenancy(async (t) => {
      const created = must(await t.createOrganization(systemActor('cli'), { name }));
      show(created, opts.json, organizationCreated);
    }),
  );
org
  .command('list')
  .description('list organizations (a table; JSON with --json)')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) =>
    withTenancy(async (t) =>
      list(await t.listOrganizations(systemActor('cli')), opts.json, 'no organizations (run postlog init)', [
        { header: 'id', value: (o) => o.id },
        { header: 'name', value: (o) => o.name },
        { header: 'created', value: (o) => o.createdAt },
      ]),
    ),
  );

const server = program.command('server').description('mail servers');
server
  .command('create <name>')
  .description('create a mail server in an organization')
  .requiredOption('--org <id>', 'organization id', orgId)
  .addOption(new Option('--mode <mode>', 'live or development').choices(['live', 'development']).default('live'))
  .option('--send-limit <perHour>', 'messages per hour before holding')
  .option('--json', 'print JSON')
  .action(async (name: string, opts: { org: string; mode: string; sendLimit?: string; json?: boolean }) =>
    withTenancy(async (t) => {
      const input = CreateServer.safeParse({
        name,
        mode: opts.mode,
        sendLimitPerHour: opts.sendLimit === undefined ? null : Number(opts.sendLimit),
      });
      if (!input.success)
        cliError('INVALID_OPTION', input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      show(must(await t.createServer(systemActor('cli'), opts.org, input.data!)), opts.json, serverCreated);
    }),
  );
server
  .command('list')
  .description("list an organization's servers (--org is required; a table, JSON with --json)")
  .requiredOption('--org <id>', 'organization id (see postlog org list)', orgId)
  .option('--json', 'print JSON')
  .action(async (opts: { org: string; json?: boolean }) =>
    withTenancy(async (t) =>
      list(must(await t.listServers(systemActor('cli'), opts.org)), opts.json, 'no servers', [
        { header: 'id', value: (s) => s.id },
        { header: 'name', value: (s) => s.name },
        { header: 'mode', value: (s) => s.mode },
        { header: 'suspended', value: (s) => s.suspended },
        { header: 'send limit/h', value: (s) => s.sendLimitPerHour },
      ]),
    ),
  );
for (const [verb, suspended] of [
  ['suspend', true],
  ['unsuspend', false],
] as const) {
  server
    .command(verb)
    .description(suspended ? 'suspend a server: its API keys and SMTP logins are refused' : 'lift a suspension')
    .argument('<id>', 'server id', idOf('the server id', 'a server id'))
    .option('--reason <text>', 'shown to API clients')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { reason?: string; json?: boolean }) =>
      withTenancy(async (t) => {
        const changed = must(
          await t.updateServer(systemActor('cli'), id, {
            suspended,
            ...(suspended ? { suspendedReason: opts.reason ?? null } : {}),
          }),
        );
        show(changed, opts.json, serverSuspension);
      }),
    );
}

const credential = program.command('credential').description('API keys and SMTP logins');
credential
  .command('create')
  .description('create an API key, SMTP login or SMTP-IP range for a server (a secret is shown once)')
  .requiredOption('--server <id>', 'server id', serverId)
  .addOption(
    new Option(
      '--kind <kind>',
      'an API key, an SMTP login, an SMTP-IP range (clients in it submit without AUTH), or an SES access key',
    )
      .choices(['api', 'smtp', 'smtp-ip', 'ses'])
      .default('api'),
  )
  .option('--cidr <range>', 'with --kind smtp-ip: the IPv4 or IPv6 range, e.g. 192.0.2.0/24')
  .option('--name <name>', 'a label', 'default')
  .option('--json', 'print JSON')
  .action(async (opts: { server: string; kind: string; name: string; cidr?: string; json?: boolean }) =>
    withTenancy(async (t) => {
      const input = CreateCredential.safeParse({
        kind: opts.kind,
        name: opts.name,
        ...(opts.cidr === undefined ? {} : { cidr: opts.cidr }),
      });
      if (!input.success)
        cliError('INVALID_OPTION', input.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      const created = must(await t.createCredential(systemActor('cli'), opts.server, input.data!));
      if (!opts.json) return void process.stdout.write(credentialCreated(created.credential, created.secret));
      printJson(
        opts.kind === 'api'
          ? { ...created.credential, apiKey: created.secret }
          : opts.kind === 'smtp'
            ? { ...created.credential, username: created.credential.identifier, password: created.secret }
            : opts.kind === 'ses'
              ? { ...created.credential, accessKeyId: created.credential.identifier, secretAccessKey: created.secret }
              : { ...created.credential, cidr: created.credential.identifier },
      );
    }),
  );
credential
  .command('list')
  .description("list a server's API keys and SMTP logins (--server is required; a table, JSON with --json)")
  .requiredOption('--server <id>', 'server id', serverId)
  .option('--json', 'print JSON')
  .action(async (opts: { server: string; json?: boolean }) =>
    withTenancy(async (t) =>
      list(must(await t.listCredentials(systemActor('cli'), opts.server)), opts.json, 'no credentials', [
        { header: 'id', value: (c) => c.id },
        { header: 'kind', value: (c) => c.kind },
        { header: 'name', value: (c) => c.name },
        { header: 'identifier', value: (c) => c.identifier },
        { header: 'revoked', value: (c) => c.revoked },
        { header: 'last used', value: (c) => c.lastUsedAt },
      ]),
    ),
  );
credential
  .command('revoke')
  .description('revoke an API key or SMTP login')
  .argument('<id>', 'credential id', idOf('the credential id', 'a credential id'))
  .option('--json', 'print JSON')
  .action(async (id: string, opts: { json?: boolean }) =>
    withTenancy(async (t) => {
      must(await t.revokeCredential(systemActor('cli'), id));
      show({ revoked: id }, opts.json, () => `Revoked credential ${id}: it is refused from now on\n`);
    }),
  );

const domain = program.command('domain').description('sending domains');
domain
  .command('add <domain>')
  .description('add a sending domain to a server and print the DNS records to publish')
  .requiredOption('--server <id>', 'server id', serverId)
  .option('--verified', 'mark verified without a DNS check (an administrator vouches for it)')
  .option('--ed25519', 'also sign with an Ed25519 key')
  .option('--json', 'print JSON')
  .action(async (name: string, opts: { server: string; verified?: boolean; ed25519?: boolean; json?: boolean }) =>
    withTenancy(async (t) => {
      const created = await t.createDomain(systemActor('cli'), opts.server, {
        name,
        verified: opts.verified === true,
        ed25519: opts.ed25519 === true,
      });
      if (!created.ok && created.error.code === 'CONFLICT')
        cliError(
          'DOMAIN_EXISTS',
          `${created.error.message}: nothing was changed. See its DNS records with: postlog domain show ${name.toLowerCase()} --server ${opts.server}`,
        );
      const d = must(created);
      if (opts.json) printJson(d);
      else {
        process.stdout.write(
          `Added ${d.name} (${d.verified ? 'verified' : 'not verified yet'}). Publish these DNS records:\n`,
        );
        process.stdout.write(dnsRecords(d));
        if (!d.verified)
          process.stdout.write(`Then check them: postlog domain verify ${d.name} --server ${opts.server}\n`);
      }
    }),
  );
domain
  .command('list')
  .description("list a server's domains (--server is required; a table, JSON with --json)")
  .requiredOption('--server <id>', 'server id (required)', serverId)
  .option('--json', 'print JSON')
  .action(async (opts: { server: string; json?: boolean }) =>
    withTenancy(async (t) =>
      list(
        must(await t.listDomains(systemActor('cli'), opts.server)),
        opts.json,
        `no domains (add one: postlog domain add <domain> --server ${opts.server})`,
        [
          { header: 'id', value: (d) => d.id },
          { header: 'name', value: (d) => d.name },
          { header: 'verified', value: (d) => d.verified },
          { header: 'dkim selectors', value: (d) => d.dkimKeys.filter((k) => k.active).map((k) => k.selector) },
          { header: 'created', value: (d) => d.createdAt },
        ],
      ),
    ),
  );
domain
  .command('show <domain>')
  .description('a domain of a server with the DNS records to publish (by name or id)')
  .requiredOption('--server <id>', 'server id', serverId)
  .option('--json', 'print JSON')
  .action(async (ref: string, opts: { server: string; json?: boolean }) =>
    withTenancy(async (t) => {
      const d = await findDomain(t, opts.server, ref);
      if (opts.json) return printJson(d);
      process.stdout.write(
        `${d.name} (${d.id}): ${d.verified ? `verified ${d.verifiedAt ?? ''}` : 'not verified yet'}\n`,
      );
      process.stdout.write(dnsRecords(d));
    }),
  );
domain
  .command('verify <domain>')
  .description('look up the DNS records of a domain (by name or id); marks it verified when the TXT record is found')
  .requiredOption('--server <id>', 'server id', serverId)
  .option('--json', 'print JSON')
  .action(async (ref: string, opts: { server: string; json?: boolean }) =>
    withTenancy(async (t, config) => {
      const d = await findDomain(t, opts.server, ref);
      const checks = await checkDnsRecords(createResolver(config.dnsServers), d);
      const proven = checks.some((c) => c.purpose === 'verification' && c.ok);
      const after = proven ? must(await t.markDomainVerified(systemActor('cli'), d.id)) : d;
      // the checks are the answer (stdout, JSON with --json); not verified yet is an error besides (exit 1)
      if (opts.json) printJson({ verified: after.verified, checks, domain: after });
      else {
        for (const c of checks)
          process.stdout.write(`  ${c.ok ? 'ok     ' : 'missing'} ${c.purpose.padEnd(12)} ${c.name}\n`);
        if (after.verified) process.stdout.write(`${after.name} is verified\n`);
      }
      if (!after.verified)
        cliError(
          'DOMAIN_NOT_VERIFIED',
          `${after.name} is not verified: publish the verification TXT record ` +
            `(postlog domain show ${after.name} --server ${opts.server}) and run this again`,
        );
    }),
  );
domain
  .command('remove <domain>')
  .description('remove a domain (by name or id) from a server: mail from it is refused from then on')
  .requiredOption('--server <id>', 'server id', serverId)
  .option('--json', 'print JSON')
  .action(async (ref: string, opts: { server: string; json?: boolean }) =>
    withTenancy(async (t) => {
      const d = await findDomain(t, opts.server, ref);
      must(await t.deleteDomain(systemActor('cli'), d.id));
      show({ removed: d.id, name: d.name }, opts.json, () => `removed ${d.name} (${d.id})\n`);
    }),
  );
domain
  .command('rotate-dkim')
  .description('sign with a new DKIM key from now on; the old key stays published until you remove it')
  .argument('<id>', 'domain id', idOf('the domain id', 'a domain id'))
  .option('--json', 'print JSON')
  .action(async (id: string, opts: { json?: boolean }) =>
    withTenancy(async (t) => show(must(await t.rotateDkim(systemActor('cli'), id)), opts.json, dkimRotated)),
  );

const adminToken = program.command('admin-token').description('tokens for the management API');
adminToken
  .command('create')
  .description('create an admin token for the management API (the secret is shown once)')
  .option('--org <id>', 'scope the token to one organization (default: global admin)', orgId)
  .option('--name <name>', 'a label', 'admin')
  .option('--json', 'print JSON')
  .action(async (opts: { org?: string; name: string; json?: boolean }) =>
    withTenancy(async (t) => {
      const created = must(
        await t.createAdminToken(systemActor('cli'), { name: opts.name, organizationId: opts.org ?? null }),
      );
      if (opts.json) printJson({ ...created.token, token: created.secret });
      else process.stdout.write(adminTokenCreated(created.token, created.secret));
    }),
  );

program
  .command('send')
  .description('send a message as a server, through the same checks and accept path as POST /v2/messages')
  .requiredOption('--server <id>', 'server id', serverId)
  .requiredOption('--from <address>', 'sender: an address of a verified domain of the server')
  .requiredOption('--to <address...>', 'recipients (each gets its own message)')
  .requiredOption('--subject <text>', 'subject')
  .option('--text <body>', 'plain text body')
  .option('--html <body>', 'HTML body')
  .option('--tag <tag>', 'a tag to find the message by')
  .option('--json', 'print JSON')
  .action(
    async (opts: {
      server: string;
      from: string;
      to: string[];
      subject: string;
      text?: string;
      html?: string;
      tag?: string;
      json?: boolean;
    }) =>
      withEventStore(async (store, db, config, logger) => {
        if (opts.text === undefined && opts.html === undefined)
          cliError('MISSING_OPTION', 'give --text or --html (or both)');
        const tenancy = tenancyStoreFor(config, db.pool, logger);
        const found = must(await tenancy.getServer(systemActor('cli'), opts.server));
        const answer = await callApiAsServer({ config, logger, db, store }, found, {
          method: 'POST',
          url: '/v2/messages',
          body: {
            from: opts.from,
            to: opts.to,
            subject: opts.subject,
            ...(opts.text === undefined ? {} : { text: opts.text }),
            ...(opts.html === undefined ? {} : { html: opts.html }),
            ...(opts.tag === undefined ? {} : { tag: opts.tag }),
          },
        });
        const body = apiBody(answer);
        const sent = body as { batch_id: string; messages: { id: string; to: string; status: string }[] };
        if (opts.json) return printJson(sent);
        process.stdout.write(
          table(
            sent.messages,
            [
              { header: 'message', value: (m) => m.id },
              { header: 'to', value: (m) => m.to },
              { header: 'status', value: (m) => m.status },
            ],
            'no messages',
          ),
        );
        process.stdout.write(
          `Accepted. postlog start delivers them (now, if it runs); follow them with: postlog messages list --server ${opts.server}\n`,
        );
      }),
  );

program
  .command('dev-sink')
  .description('a local SMTP server that accepts every message and prints it: a smart host to try Postlog with')
  .option('--port <port>', 'port to listen on (Postlog takes 2525 for its inbound MX)', portOf('--port'), 2526)
  .option('--host <address>', 'address to listen on (loopback: it accepts anything from anyone)', '127.0.0.1')
  .option('--dir <dir>', 'also store each message there as a .eml file')
  .action(async (opts: { port: number; host: string; dir?: string }) => {
    const sink = await startDevSink({ ...opts, print: (line) => process.stdout.write(`${line}\n`) });
    const at = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${sink.port}`;
    process.stdout.write(
      `postlog dev-sink: SMTP on ${at} (no TLS, any login), one line per message` +
        `${opts.dir ? `, stored in ${opts.dir}` : ''}.\n` +
        `Point Postlog at it: POSTLOG_SMART_HOST=${at} POSTLOG_SMART_HOST_TLS=none npm start\n`,
    );
    const stop = () => void sink.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

const messages = program.command('messages').description('messages sent and received');
messages
  .command('list')
  .description("a server's messages, newest first (--server is required; a table, JSON with --json)")
  .requiredOption('--server <id>', 'server id (required)', serverId)
  .option('--status <status>', 'only messages in this state (queued, delivered, bounced, held, …)')
  .option('--limit <n>', 'at most this many (1-500)', '50')
  .option('--json', 'print JSON')
  .action(async (opts: { server: string; status?: string; limit: string; json?: boolean }) =>
    withEventStore(async (store, db, config, logger) => {
      const tenancy = tenancyStoreFor(config, db.pool, logger);
      const found = must(await tenancy.getServer(systemActor('cli'), opts.server));
      const query = new URLSearchParams({ serverId: opts.server, limit: opts.limit });
      if (opts.status) query.set('status', opts.status);
      const answer = await callApiAsServer({ config, logger, db, store }, found, {
        method: 'GET',
        url: `/v2/messages?${query}`,
      });
      const rows = (apiBody(answer) as { messages: Record<string, string | number | null>[] }).messages;
      list(
        rows,
        opts.json,
        'no messages (postlog start builds this list from the log: a message shows up a moment after it is sent)',
        [
          { header: 'id', value: (m) => m.id },
          { header: 'accepted', value: (m) => m.acceptedAt },
          { header: 'from', value: (m) => m.from },
          { header: 'to', value: (m) => m.to },
          { header: 'status', value: (m) => m.status },
          { header: 'subject', value: (m) => m.subject },
        ],
      );
    }),
  );

/** Why a name cannot be rebuilt or verified. */
const unknownProjection = (name: string) =>
  outboxProjections({ webhookMaxAgeHours: 24 }).some((p) => p.name === name)
    ? `${name} is an outbox of webhook deliveries, not a read model: rebuilding it would send every webhook again (use the redeliver API to send deliveries again)`
    : `no projection ${name} (known: ${projections.map((x) => x.name).join(', ')})`;
const projectionsCommand = program.command('projections').description('read models built from the log');
projectionsCommand
  .command('status')
  .option('--json', 'print JSON')
  .description(
    'checkpoints, lag and errors of every projection (and of the sinks the configuration enables: Kafka, ClickHouse)',
  )
  .action(async (opts: { json?: boolean }) =>
    withEventStore(async (store, db, config) => {
      const status = await projectionStatus(db.pool, projectionNamesFor(config), store, projectionFiltersFor(config));
      if (opts.json) return printJson(status);
      for (const s of status) {
        process.stdout.write(
          `${s.name.padEnd(22)} v${s.version ?? '-'}  position ${s.position ?? '-'} of ${s.headPosition ?? 0}  lag ${s.lagEvents ?? '-'}${s.lagEvents === LAG_COUNT_LIMIT && s.headPosition === null ? '+' : ''} events${s.lastError ? `  ERROR since ${s.errorAt}: ${s.lastError}` : ''}\n`,
        );
      }
    }),
  );
projectionsCommand
  .command('rebuild [name]')
  .description(
    'rebuild a projection (all when no name is given) from the log into shadow tables, then swap them in (no downtime)',
  )
  .action(async (name: string | undefined) =>
    withEventStore(async (store, db) => {
      const targets = name
        ? [projectionNamed(name) ?? cliError('UNKNOWN_PROJECTION', unknownProjection(name))]
        : projections;
      const started = performance.now();
      const results = await rebuildProjections(db.pool, store, targets, (n) => process.stderr.write(`\r${n} events`));
      process.stderr.write('\n');
      const seconds = (performance.now() - started) / 1000;
      for (const [n, r] of results) process.stdout.write(`rebuilt ${n} from ${r.events} events\n`);
      process.stdout.write(`done in ${seconds.toFixed(1)} s\n`);
    }),
  );
projectionsCommand
  .command('verify [name]')
  .option('--json', 'print JSON')
  .description('rebuild into a shadow and compare with the live tables; exit code 1 on any difference')
  .action(async (name: string | undefined, opts: { json?: boolean }) =>
    withEventStore(async (store, db) => {
      const targets = name
        ? [projectionNamed(name) ?? cliError('UNKNOWN_PROJECTION', unknownProjection(name))]
        : projections;
      const reports = [];
      for (const p of targets) reports.push(await verifyProjection(db.pool, store, p));
      if (opts.json) printJson(reports);
      else {
        for (const r of reports) {
          process.stdout.write(
            `${r.projection}: ${r.ok ? 'OK' : 'DIFFERENT'} (${r.events} events, ${r.seconds.toFixed(1)} s)\n`,
          );
          for (const t of r.tables) {
            process.stdout.write(
              `  ${t.table}: ${t.liveRows} live rows, ${t.rebuiltRows} rebuilt, ${t.onlyInLive} only live, ${t.onlyInRebuilt} only rebuilt\n`,
            );
            for (const sample of t.samples) process.stdout.write(`    ${JSON.stringify(sample)}\n`);
          }
        }
      }
      const different = reports.filter((r) => !r.ok).map((r) => r.projection);
      if (different.length > 0)
        cliError(
          'PROJECTIONS_DIFFER',
          `${different.join(', ')} differ${different.length === 1 ? 's' : ''} from a rebuild from the log ` +
            `(postlog projections rebuild${different.length === 1 ? ` ${different[0]}` : ''} makes them equal)`,
        );
    }),
  );

program
  .command('retention')
  .description('message retention')
  .command('run')
  .option('--json', 'print JSON')
  .description(
    "expire the content of messages past their server's retention period and delete bodies no message needs, now (the projector does it every 15 minutes)",
  )
  .action(async (opts: { json?: boolean }) =>
    withEventStore(async (store, db, _config, logger) => {
      const run = await runRetention({
        pool: db.pool,
        eventStore: store,
        logger,
        projectionLagSeconds: projectionLagSeconds(db.pool, store),
      });
      if (!run.ran)
        cliError(
          'RETENTION_BUSY',
          'another Postlog process is running retention right now: try again in a few minutes',
        );
      if (opts.json) return printJson(run);
      process.stdout.write(
        `content expired for ${run.expired} message(s); ${run.contentsDeleted} stored bod${run.contentsDeleted === 1 ? 'y' : 'ies'} deleted${run.complete ? '' : '; stopped after its time budget: run it again to go on'}\n`,
      );
    }),
  );

program
  .command('schemas')
  .description('write the JSON Schemas of the events Postlog publishes (Kafka record values), one file per event type')
  .option('--out <dir>', 'directory to write them to', 'schemas/events')
  .option('--check', 'write nothing: exit 1 when the files in --out differ from what this version generates')
  .action((opts: { out: string; check?: boolean }) => {
    const files = eventJsonSchemaFiles();
    if (opts.check) {
      const stale = [...files]
        .filter(
          ([name, text]) => !existsSync(join(opts.out, name)) || readFileSync(join(opts.out, name), 'utf8') !== text,
        )
        .map(([name]) => name);
      if (stale.length > 0)
        cliError(
          'SCHEMAS_OUT_OF_DATE',
          `${stale.length} schema file(s) in ${opts.out} are missing or out of date: ${stale.join(', ')} (run postlog schemas --out ${opts.out})`,
        );
      process.stdout.write(`${files.size} schema files in ${opts.out} are up to date\n`);
      return;
    }
    mkdirSync(opts.out, { recursive: true });
    for (const [name, text] of files) writeFileSync(join(opts.out, name), text);
    process.stdout.write(`wrote ${files.size} schema files to ${opts.out}\n`);
  });

program
  .command('dnsbl')
  .description('blocklist monitoring (docs/deliverability.md)')
  .command('check')
  .description('look every sending IP and verified domain up in the configured blocklists now; changes are recorded')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) =>
    withEventStore(async (store, db, config, logger) => {
      const settings = blocklistSettings(config);
      const run = await runBlocklistChecks(
        {
          pool: db.pool,
          tenancy: tenancyStoreFor(config, db.pool, logger, secretBoxOf(config, logger)),
          resolver: createResolver(config.dnsServers),
          eventStore: store,
          logger,
          clock: systemClock,
        },
        settings,
      );
      if (!run.ran)
        cliError('BLOCKLIST_CHECK_BUSY', 'another process is checking the blocklists right now: try again in a minute');
      const rows = run.checks.map((c) => ({
        kind: c.kind,
        target: c.target,
        zone: c.zone,
        state:
          c.verdict.state === 'unknown' ? `unknown (${c.listed ? 'listed' : 'not listed'} before)` : c.verdict.state,
        changed: c.changed,
        reason: c.verdict.state === 'unknown' ? c.verdict.why : c.reason,
      }));
      if (opts.json) return printJson({ checks: rows });
      if (rows.length === 0)
        process.stdout.write('nothing to check: set POSTLOG_DNSBL_ZONES or POSTLOG_DNSBL_DOMAIN_ZONES (and ipPools)\n');
      for (const r of rows)
        process.stdout.write(
          `${r.state.padEnd(10)} ${r.target} in ${r.zone}${r.changed ? ' (changed)' : ''}${r.reason ? `: ${r.reason}` : ''}\n`,
        );
    }),
  );

program
  .command('replay')
  .description('replay history from the log')
  .command('message <id>')
  .option('--json', 'print JSON')
  .description("a message's timeline, with its state after each event")
  .action(async (id: string, opts: { json?: boolean }) =>
    withEventStore(async (store) => {
      const recorded = await store.readStream(`message-${id}`);
      if (recorded.length === 0) cliError('MESSAGE_NOT_FOUND', `no message ${id}`);
      let state = initialState();
      const steps = [];
      for (const r of recorded) {
        const decoded = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
        if (!decoded.ok) cliError('CORRUPT_STREAM', `event ${r.eventId} cannot be read: ${decoded.error.code}`);
        state = evolve(state, decoded.value);
        steps.push({
          revision: r.revision,
          position: r.position,
          recordedAt: r.recordedAt.toISOString(),
          type: r.type,
          data: r.data,
          metadata: r.metadata,
          state,
        });
      }
      if (opts.json) return printJson(steps);
      for (const s of steps) {
        const d = s.data as Record<string, unknown>;
        const detail = [
          d.to,
          d.reason,
          d.diagnostic,
          (d.delivery as { reply?: { code: number; text: string } } | undefined)?.reply &&
            `${(d.delivery as { reply: { code: number; text: string } }).reply.code} ${(d.delivery as { reply: { code: number; text: string } }).reply.text}`,
          d.nextAttemptAt && `next ${String(d.nextAttemptAt)}`,
        ]
          .filter(Boolean)
          .join(' · ');
        process.stdout.write(
          `#${String(s.revision).padEnd(3)} ${s.recordedAt}  ${s.type.padEnd(20)} → ${s.state.status.padEnd(10)} attempts ${s.state.attempts}${detail ? `  ${detail}` : ''}\n`,
        );
      }
    }),
  );

/** One record: JSON with --json, else its human form (records.ts). */
function show<T>(value: T, json: boolean | undefined, human: (value: T) => string): void {
  if (json) printJson(value);
  else process.stdout.write(human(value));
}

/** The body of a 2xx answer of the in-process API; any other ends the command with its code and message. */
function apiBody(answer: ApiAnswer): unknown {
  if (answer.status >= 200 && answer.status < 300) return answer.body;
  const e = (answer.body ?? {}) as { code?: string; message?: string };
  // the API's codes are the CLI's too (error-catalogue.ts); an answer without one is unexpected
  if (isCliErrorCode(e.code)) cliError(e.code, e.message ?? 'the request failed');
  cliError('UNEXPECTED', `the API answered ${answer.status}: ${e.message ?? 'the request failed'}`);
}

/** A list as a table, or as JSON with --json. */
function list<T>(rows: readonly T[], json: boolean | undefined, empty: string, columns: Column<T>[]): void {
  if (json) printJson(rows);
  else process.stdout.write(table(rows, columns, empty));
}

/** A domain of the server, by id or by name; any other ends the command saying where to look. */
async function findDomain(t: TenancyStore, server: string, ref: string): Promise<Domain> {
  const domains = must(await t.listDomains(systemActor('cli'), server));
  const name = ref.toLowerCase().replace(/\.$/, '');
  const found = domains.find((d) => (isId(ref) ? d.id === ref : d.name === name));
  if (!found)
    cliError(
      'DOMAIN_NOT_FOUND',
      `${ref} is not a domain of server ${server} (see postlog domain list --server ${server})`,
    );
  return found;
}

/** The value of an ok result; a tenancy error ends the command with its message. */
function must<T>(result: Result<T, TenancyError>): T {
  if (!result.ok) cliError(result.error.code, result.error.message);
  return result.value;
}

/** Runs a command against the event log (and its database). */
async function withEventStore(
  work: (
    store: EventStore,
    db: Awaited<ReturnType<typeof openDatabase>>,
    config: Config,
    logger: Logger,
  ) => Promise<void>,
): Promise<void> {
  await withDatabase({}, async (db, logger, config) => {
    const store = await eventStoreFor(config, db, logger);
    try {
      await work(store, db, config, logger);
    } finally {
      await store.close();
    }
  });
}

/** Runs a command against the tenancy store, whether or not `postlog start` runs on this data dir. */
async function withTenancy(
  work: (
    tenancy: TenancyStore,
    config: Config,
    pool: Awaited<ReturnType<typeof openDatabase>>['pool'],
    secrets: SecretBox,
  ) => Promise<void>,
): Promise<void> {
  await withDatabase({}, async (db, logger, config) => {
    const secrets = secretBoxOf(config, logger);
    await work(tenancyStoreFor(config, db.pool, logger, secrets), config, db.pool, secrets);
  });
}

/** Runs a command against the dashboard's users, sessions and links. */
async function withAccounts(work: (accounts: Accounts, config: Config) => Promise<void>): Promise<void> {
  await withDatabase({}, async (db, logger, config) =>
    work(
      {
        users: new UserStore(db.pool, secretBoxOf(config, logger)),
        tokens: new UserTokenStore(db.pool),
        sessions: new SessionStore(db.pool, {
          idleMs: config.sessionIdleMinutes * 60_000,
          absoluteMs: config.sessionMaxHours * 3_600_000,
        }),
      },
      config,
    ),
  );
}

/** The first admin's login: as given, or admin@ the host name (admin@postlog.local for a bare host name). */
function firstAdminEmail(given: string | undefined, hostname: string): string {
  const email = Email.safeParse(given ?? `admin@${hostname}`);
  if (email.success) return email.data;
  if (given) cliError('INVALID_OPTION', `--admin-email: ${given} is not an email address`);
  return 'admin@postlog.local';
}

registerUserCommands(program, withAccounts);
registerTlsReportCommands(program, (work) =>
  withEventStore((store, db, config, logger) => work(buildServices(config, logger, createMetrics(), db, store))),
);
registerSecretsCommands(program, (work) => withDatabase({}, (db, logger, config) => work(db.pool, config, logger)));
registerReputationCommands(program, (work) => withEventStore((store, db, config) => work(store, db.pool, config)));
registerPostalImportCommand(program, (work) =>
  withDatabase({}, async (db, logger, config) => {
    const secrets = secretBoxOf(config, logger);
    await work({
      pool: db.pool,
      tenancy: tenancyStoreFor(config, db.pool, logger, secrets),
      secrets,
      openEventStore: () => eventStoreFor(config, db, logger),
    });
  }),
);

registerBackupCommands(program, async (work) => {
  // not withDatabase: a backup reads the schema as it is, a restore needs the target untouched
  const { config, logger } = configure({ logLevel: process.env.POSTLOG_LOG_LEVEL ?? 'warn' }, 2);
  const db = await openDatabase(config, logger);
  try {
    return await work(db, config, logger);
  } finally {
    await db.close();
  }
});

program.parseAsync(process.argv).catch((err: unknown) => {
  const error = asCliError(err);
  // --help and --version end the parse too, with their own output and exit code 0
  process.exit(error ? printError(error, process.argv.includes('--json')) : 0);
});
