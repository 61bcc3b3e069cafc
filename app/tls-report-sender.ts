import type { Config } from '../infra/config/index.js';
import { trustedCas } from '../infra/mta-sts/index.js';
import {
  previousUtcDay,
  runTlsReports,
  tlsReportDaySettled,
  type TlsReportDeps,
} from '../write-side/tls-reports/send-tls-reports.js';
import type { Services } from './services.js';

/** Whether this installation sends TLS-RPT reports: POSTLOG_TLSRPT_SEND, unset: as POSTLOG_MTA_STS. */
export function sendsTlsReports(config: Config): boolean {
  return config.tlsrptSend ?? config.mtaSts;
}

/** What the TLS-RPT run needs, from the process's services (the projector role and the CLI). */
export function tlsReportDepsOf(s: Services): TlsReportDeps {
  const { config } = s;
  return {
    pool: s.database.pool,
    resolver: s.resolver,
    send: s.send,
    clock: s.clock,
    logger: s.logger.child({ component: 'tls-reports' }),
    hostname: config.hostname,
    organization: config.tlsrptOrganization ?? config.hostname,
    from: config.tlsrptFrom ?? config.accountMailFrom,
    ca: trustedCas(config.tlsExtraCaFile),
  };
}

/** The daily run starts this long after midnight UTC: the projection has counted the day's last attempts. */
const AFTER_MIDNIGHT_MS = 10 * 60_000;

/**
 * The daily TLS-RPT run, in the projector role: every `everyMs` it looks whether the day before has
 * been reported by this process, and runs it when not (or when a report of it failed: its retries).
 * Several projector processes may tick: the run's advisory lock and the sent-reports claims make one
 * of them send each report once. Returns the timer's stop.
 */
export function scheduleTlsReports(s: Services, everyMs = 15 * 60_000): () => void {
  const deps = tlsReportDepsOf(s);
  let done: string | undefined;
  let lookups = { day: '', runs: 0 };
  let running = false;
  const tick = () => {
    const now = s.clock.now();
    const day = previousUtcDay(new Date(now.getTime() - AFTER_MIDNIGHT_MS));
    if (running || done === day) return;
    running = true;
    runTlsReports(deps, { day })
      .then((run) => {
        // a day without counts yet (the projection behind, a quiet night) is looked at again next time
        const after = tlsReportDaySettled(run, lookups.day === day ? lookups.runs : 0);
        lookups = { day, runs: after.lookupRuns };
        if (after.settled) done = day;
      })
      .catch((err: Error) => deps.logger.error({ error: err.message }, 'TLS report run failed'))
      .finally(() => (running = false));
  };
  // once soon after start (a restart catches up at once), then every `everyMs`
  const first = setTimeout(tick, Math.min(everyMs, 5_000));
  const timer = setInterval(tick, everyMs);
  first.unref();
  timer.unref();
  return () => {
    clearTimeout(first);
    clearInterval(timer);
  };
}
