import type { SecretBox } from '../../infra/secrets/index.js';
import type { Command } from 'commander';
import type pg from 'pg';
import { systemActor } from '../../domain/index.js';
import { planImport, type ImportPlan } from '../../domain/postal-import/index.js';
import type { PostalSource } from '../../infra/postal-import/postal-database.js';
import { runImport, type ImportReport } from '../../infra/postal-import/importer.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import type { HistoryReport } from '../../write-side/postal-import/message-history.js';
import { cliError } from './errors.js';
import { printJson, table } from './output.js';

interface ImportStores {
  pool: pg.Pool;
  tenancy: TenancyStore;
  secrets: SecretBox;
  /** The event log, opened for --messages-days only (the caller closes it). */
  openEventStore: () => Promise<EventStore>;
}
type WithStores = (work: (stores: ImportStores) => Promise<void>) => Promise<void>;

interface ImportOptions {
  mysql: string;
  dryRun?: boolean;
  json?: boolean;
  dkimIdentifier: string;
  messageDbPrefix: string;
  messagesDays?: string;
}

/** The longest history --messages-days takes: Postlog's longest retention. */
const MAX_MESSAGES_DAYS = 3650;

/**
 * `postlog import postal`: Postal's tenancy into Postlog, so that no DNS record, API key or SMTP
 * password changes (docs/migrating-from-postal.md). Postal is read (never written), the plan is
 * made by domain/postal-import/, the records by infra/postal-import/importer.ts.
 */
export function registerPostalImportCommand(program: Command, withStores: WithStores): void {
  program
    .command('import')
    .description('bring configuration over from another system')
    .command('postal')
    .description(
      "copy a Postal 3.x installation's organizations, servers, domains (DKIM keys), credentials, webhooks, " +
        'routes and suppressions; rerunning creates nothing twice',
    )
    .requiredOption('--mysql <url>', "Postal's main database: mysql://user:password@host:port/postal")
    .option('--dry-run', 'print what would be created and change nothing')
    .option('--json', 'print JSON')
    .option(
      '--dkim-identifier <prefix>',
      "Postal's dns.dkim_identifier (its DKIM selectors are <prefix>-XXXXXX)",
      'postal',
    )
    .option(
      '--message-db-prefix <prefix>',
      "Postal's message_db.database_name_prefix (suppressions are in <prefix>-server-<id>)",
      'postal',
    )
    .option(
      '--messages-days <days>',
      'also import the message history of the last <days> days (status, attempts, opens and clicks counts, bodies Postal still holds); nothing is sent',
    )
    .action(async (opts: ImportOptions) => {
      if (!/^mysql:\/\//.test(opts.mysql)) cliError('INVALID_OPTION', '--mysql must be a mysql://… URL');
      const messagesDays = opts.messagesDays === undefined ? undefined : Number(opts.messagesDays);
      if (
        messagesDays !== undefined &&
        (!/^\d+$/.test(opts.messagesDays!) || messagesDays < 1 || messagesDays > MAX_MESSAGES_DAYS)
      )
        cliError('INVALID_OPTION', `--messages-days must be a whole number of days from 1 to ${MAX_MESSAGES_DAYS}`);
      // loaded here, not with the CLI: every `postlog start` process would load the MySQL client for nothing
      const { PostalUnreadable, readPostal, redacted } = await import('../../infra/postal-import/postal-database.js');
      const source: PostalSource = { url: opts.mysql, messageDbPrefix: opts.messageDbPrefix };
      const snapshot = await readPostal(source).catch((e) => {
        if (e instanceof PostalUnreadable) cliError('POSTAL_UNREADABLE', e.message);
        throw e;
      });
      const now = new Date();
      const plan = planImport(snapshot, { now, dkimIdentifier: opts.dkimIdentifier, messagesDays });
      await withStores(async (stores) => {
        const dryRun = opts.dryRun === true;
        const report = await runImport(plan, stores, { dryRun });
        const messages =
          messagesDays === undefined
            ? undefined
            : await importHistory(stores, plan, report, source, { days: messagesDays, now, dryRun }).catch((e) => {
                if (e instanceof PostalUnreadable) cliError('POSTAL_UNREADABLE', e.message);
                throw e;
              });
        if (opts.json) printJson({ source: redacted(opts.mysql), ...report, ...(messages ? { messages } : {}) });
        else process.stdout.write(humanReport(report, messages));
        const failed = [
          ...report.outcomes.filter((o) => o.action === 'failed').map((f) => `${f.kind} ${f.what}: ${f.message}`),
          ...(messages?.failed ?? []).map((f) => `${f.what}: ${f.message}`),
        ];
        if (failed.length > 0)
          cliError('POSTAL_IMPORT_INCOMPLETE', `${failed.length} record(s) could not be created: ${failed.join('; ')}`);
      });
    });
}

/**
 * The message history of the imported servers (--messages-days): loaded here, like the MySQL
 * client, so that other commands do not load it. The servers' retention is Postlog's as it is now.
 */
async function importHistory(
  stores: ImportStores,
  plan: ImportPlan,
  report: ImportReport,
  source: PostalSource,
  o: { days: number; now: Date; dryRun: boolean },
): Promise<HistoryReport & { days: number }> {
  const { PostalMessageReader } = await import('../../infra/postal-import/postal-messages.js');
  const { importMessageHistory } = await import('../../write-side/postal-import/message-history.js');
  const { ContentStore } = await import('../../infra/content/index.js');
  const { MessageIdAllocator } = await import('../../infra/messages/index.js');
  const servers = [];
  for (const s of plan.servers) {
    const postlogId =
      report.outcomes.find((x) => x.kind === 'server' && x.postalId === s.postalId)?.postlogId ?? undefined;
    const now = postlogId ? await stores.tenancy.getServer(systemActor('cli:import-postal'), postlogId) : undefined;
    servers.push({
      postalId: Number(s.postalId),
      postlogId,
      label: s.label,
      retentionDays: now?.ok ? now.value.retentionDays : s.retentionDays,
    });
  }
  const reader = await PostalMessageReader.open(source);
  const eventStore = await stores.openEventStore();
  try {
    const history = await importMessageHistory(
      {
        pool: stores.pool,
        eventStore,
        contents: new ContentStore(stores.pool),
        ids: new MessageIdAllocator(stores.pool, 500),
        reader,
      },
      servers,
      { since: new Date(o.now.getTime() - o.days * 86_400_000), now: o.now, dryRun: o.dryRun },
    );
    return { days: o.days, ...history };
  } finally {
    await eventStore.close();
    await reader.close();
  }
}

function humanReport(r: ImportReport, messages?: HistoryReport & { days: number }): string {
  const count = (action: string) => r.outcomes.filter((o) => o.action === action).length;
  const parts = [
    r.dryRun
      ? `Dry run: nothing was changed. ${count('would-create')} record(s) would be created, ` +
        `${count('exists')} exist from an earlier import.\n`
      : `Imported from Postal: ${count('created')} created, ${count('exists')} there from an earlier import, ` +
        `${count('failed')} failed.\n`,
    table(
      r.outcomes,
      [
        { header: 'kind', value: (o) => o.kind },
        { header: 'postal id', value: (o) => o.postalId },
        { header: 'what', value: (o) => o.what },
        { header: 'result', value: (o) => (o.message ? `${o.action}: ${o.message}` : o.action) },
        { header: 'postlog id', value: (o) => o.postlogId },
      ],
      'nothing to import',
    ),
    `Suppression entries ${r.dryRun ? 'to add' : 'added or renewed'}: ${r.suppressions}\n`,
  ];
  if (messages)
    parts.push(
      `Messages of the last ${messages.days} days ${r.dryRun ? 'to import' : 'imported'}: ${messages.imported} ` +
        `(${messages.withBody} with their body), ${messages.existing} there from an earlier import` +
        `${messages.failed.length > 0 ? `, ${messages.failed.length} failed` : ''}\n`,
      ...messages.unread.map((u) => `  the message history of ${u.server} could not be read: ${u.reason}\n`),
    );
  if (r.ipPoolsYaml)
    parts.push(
      "\nPostlog's IP pools are configuration: add this to postlog.yaml (each server names its pool already):\n\n",
      `${r.ipPoolsYaml.trimEnd().replace(/^/gm, '  ')}\n`,
    );
  parts.push(
    '\nNot carried over:\n',
    ...r.notCarriedOver.map((n) => `  - ${n.what}: ${n.reason}\n`),
    '\nDNS stays as it is: DKIM selectors, return paths (psrp.<domain>) and keys are the same. Keep the SPF include ' +
      "and return-path target names Postal's records point at resolving to Postlog's addresses.\n",
  );
  return parts.join('');
}
