import type { SecretBox } from '../../infra/secrets/index.js';
import type { Command } from 'commander';
import type pg from 'pg';
import { planImport } from '../../domain/postal-import/index.js';
import type { PostalSource } from '../../infra/postal-import/postal-database.js';
import { runImport, type ImportReport } from '../../infra/postal-import/importer.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { cliError } from './errors.js';
import { printJson, table } from './output.js';

type WithStores = (
  work: (stores: { pool: pg.Pool; tenancy: TenancyStore; secrets: SecretBox }) => Promise<void>,
) => Promise<void>;

interface ImportOptions {
  mysql: string;
  dryRun?: boolean;
  json?: boolean;
  dkimIdentifier: string;
  messageDbPrefix: string;
}

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
    .action(async (opts: ImportOptions) => {
      if (!/^mysql:\/\//.test(opts.mysql)) cliError('INVALID_OPTION', '--mysql must be a mysql://… URL');
      // loaded here, not with the CLI: every `postlog start` process would load the MySQL client for nothing
      const { PostalUnreadable, readPostal, redacted } = await import('../../infra/postal-import/postal-database.js');
      const source: PostalSource = { url: opts.mysql, messageDbPrefix: opts.messageDbPrefix };
      const snapshot = await readPostal(source).catch((e) => {
        if (e instanceof PostalUnreadable) cliError('POSTAL_UNREADABLE', e.message);
        throw e;
      });
      const plan = planImport(snapshot, { now: new Date(), dkimIdentifier: opts.dkimIdentifier });
      await withStores(async (stores) => {
        const report = await runImport(plan, stores, { dryRun: opts.dryRun === true });
        if (opts.json) printJson({ source: redacted(opts.mysql), ...report });
        else process.stdout.write(humanReport(report));
        const failed = report.outcomes.filter((o) => o.action === 'failed');
        if (failed.length > 0)
          cliError(
            'POSTAL_IMPORT_INCOMPLETE',
            `${failed.length} record(s) could not be created: ` +
              failed.map((f) => `${f.kind} ${f.what}: ${f.message}`).join('; '),
          );
      });
    });
}

function humanReport(r: ImportReport): string {
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
