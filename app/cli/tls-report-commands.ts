import type { Command } from 'commander';
import { z } from 'zod';
import { runTlsReports } from '../../write-side/tls-reports/send-tls-reports.js';
import type { Services } from '../services.js';
import { tlsReportDepsOf } from '../tls-report-sender.js';
import { cliError } from './errors.js';
import { printJson, table } from './output.js';

type WithServices = (work: (services: Services) => Promise<void>) => Promise<void>;

/**
 * `postlog tls-reports send --day YYYY-MM-DD [--dry-run]`: one day's TLS-RPT reports now (the
 * projector sends yesterday's by itself). A report sent before is not sent again (the same claims
 * as the daily run); --dry-run prints the reports of the domains that ask for them, and sends nothing.
 */
export function registerTlsReportCommands(program: Command, withServices: WithServices): void {
  program
    .command('tls-reports')
    .description('TLS-RPT (RFC 8460) reports to recipient domains')
    .command('send')
    .description("send one day's TLS reports now (the projector sends yesterday's once a day)")
    .requiredOption('--day <YYYY-MM-DD>', 'the UTC day to report')
    .option('--dry-run', 'print the reports (JSON) instead of sending them')
    .option('--json', 'print JSON')
    .action(async (opts: { day: string; dryRun?: boolean; json?: boolean }) => {
      if (!z.iso.date().safeParse(opts.day).success || opts.day < '1970-01-01')
        cliError('INVALID_OPTION', `--day: ${opts.day} is not a day (YYYY-MM-DD)`);
      await withServices(async (s) => {
        const run = await runTlsReports(tlsReportDepsOf(s), { day: opts.day, dryRun: opts.dryRun === true });
        if (!run.ran) cliError('TLS_REPORTS_BUSY', 'another Postlog process is sending TLS reports right now');
        if (opts.dryRun) return printJson(run.reports);
        if (opts.json) printJson(run.outcomes);
        else
          process.stdout.write(
            table(
              run.outcomes,
              [
                { header: 'domain', value: (o) => o.policyDomain },
                { header: 'rua', value: (o) => o.rua || '-' },
                { header: 'status', value: (o) => o.status },
                { header: 'detail', value: (o) => o.detail },
              ],
              `no reports for ${opts.day} (no domain with counts that day publishes a TLS-RPT record)`,
            ),
          );
        const failed = run.outcomes.filter((o) => o.status === 'failed' || o.status === 'skipped');
        const names = failed.map((o) => o.rua || `${o.policyDomain} (no answer)`);
        if (failed.length > 0)
          cliError('TLS_REPORTS_FAILED', `${failed.length} report(s) not sent: ${names.join(', ')}`);
      });
    });
}
