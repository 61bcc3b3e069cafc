import { createJsonPoster } from '../../infra/http/outbound.js';
import { createPool } from '../../infra/postgres/index.js';
import { WebhookOutbox } from '../../infra/webhooks/index.js';
import { projectionLagSeconds } from '../../projections/maintenance.js';
import { ProjectionRunner, type Projection } from '../../projections/runner.js';
import { WebhookDispatcher } from '../../projections/webhooks/webhook-dispatcher.js';
import { runDomainChecks } from '../../write-side/admin/domain-dns-checks.js';
import { runReputationChecks, type ScopeFigures } from '../../write-side/reputation/reputation-checks.js';
import { reputationSettings } from '../../write-side/reputation/reputation-settings.js';
import { runBlocklistChecks } from '../../write-side/deliverability/blocklist-checks.js';
import { blocklistSettings } from '../blocklist-settings.js';
import { runRetention } from '../../write-side/retention/retention-job.js';
import { postgresProjectionsFor, sinkProjectionsFor } from '../adapters.js';
import { dnsSettings } from '../services.js';
import { scheduleTlsReports, sendsTlsReports } from '../tls-report-sender.js';
import {
  registerBlocklistGauge,
  registerDatabaseSizeGauge,
  registerLagGauges,
  registerQueueDepthGauge,
  registerReputationGauges,
} from './gauges.js';
import type { Role } from './role.js';

/**
 * Every projection of the log, the webhooks they queue, retention (which reads the read models) and
 * the periodic DNS check of verified domains (whose status changes are webhooks too), the daily
 * TLS-RPT reports and the reputation guard's check of complaint and bounce rates.
 */
export const projectorRole: Role = {
  name: 'projector',
  async setUp(s, stack) {
    const { config, logger, metrics, database, eventStore } = s;
    // sinks (Kafka, ClickHouse) connect to their systems; a runner's stop closes its sink, and
    // sinks whose runners never started are closed here
    const sinks = sinkProjectionsFor({ config, logger, metrics, eventStore });
    let started = false;
    stack.push('sinks not started', async () => {
      if (!started) await Promise.all(sinks.map((sink) => sink.close?.().catch(() => undefined)));
    });
    const projected: Projection[] = [...postgresProjectionsFor(config, eventStore), ...sinks];
    const runners = projected.map(
      (projection) =>
        new ProjectionRunner(projection, {
          pool: database.pool,
          connectionString: database.connectionString,
          eventStore,
          logger: logger.child({ component: 'projector' }),
          onBatch: (name, events) => metrics.projectionEvents.inc({ projection: name }, events.length),
        }),
    );

    // several projector processes share the webhook outbox. Its own connections commit without
    // waiting for the WAL flush: a lease or attempt record lost in a crash only means a webhook is
    // sent again (at-least-once), and every delivery commits twice
    const outboxPool = createPool(database.connectionString, 4, logger, { synchronous_commit: 'off' });
    const webhooks = new WebhookDispatcher({
      outbox: new WebhookOutbox(outboxPool, s.secrets),
      keys: s.signingKeys,
      secrets: s.secrets,
      poster: createJsonPoster({
        timeoutMs: config.webhookTimeoutSeconds * 1000,
        allowPrivate: config.webhooksAllowPrivateEndpoints,
        maxSocketsPerOrigin: config.webhookConcurrency,
      }),
      logger: logger.child({ component: 'webhooks' }),
      metrics,
      policy: {
        delaysSeconds: config.webhookRetryDelays,
        maxAgeSeconds: config.webhookMaxAgeHours * 3600,
        breakerFailures: config.webhookCircuitBreakerFailures,
        breakerCooldownSeconds: config.webhookCircuitBreakerCooldownSeconds,
      },
      concurrency: config.webhookConcurrency,
      pollMs: config.webhookPollMs,
      leaseSeconds: config.webhookTimeoutSeconds + 60,
      logDays: config.webhookLogDays,
    });

    stack.push('webhook outbox pool', () => outboxPool.end());

    registerLagGauges(metrics, database, eventStore, projected);
    registerDatabaseSizeGauge(metrics, database);
    registerBlocklistGauge(metrics, database);
    // the MTA role reports the queue where it runs too: once per process
    if (!config.roles.includes('mta')) registerQueueDepthGauge(metrics, database);
    // the reputation guard's figures as its last check saw them (this role runs the checks)
    let reputationFigures: ScopeFigures[] = [];
    registerReputationGauges(metrics, () => reputationFigures);
    return {
      start(running) {
        started = true;
        runners.forEach((r) => r.start());
        running.push('projections', () => Promise.all(runners.map((r) => r.stop())).then(() => undefined));
        webhooks.start();
        running.push('webhook dispatcher', () => webhooks.stop());
        // retention every 15 minutes
        const retention = setInterval(() => {
          runRetention({
            pool: database.pool,
            eventStore,
            logger,
            projectionLagSeconds: projectionLagSeconds(database.pool, eventStore),
            clock: s.clock,
          }).catch((err: Error) => logger.error({ error: err.message }, 'retention run failed'));
        }, 15 * 60_000);
        retention.unref();
        running.push('retention', () => clearInterval(retention));
        if (config.domainCheckMinutes > 0) {
          // each domain is due every domainCheckMinutes; looking at most every 5 minutes spreads them out
          const domainChecks = setInterval(() => {
            runDomainChecks(
              {
                pool: database.pool,
                tenancy: s.tenancy,
                resolver: s.resolver,
                eventStore,
                logger: logger.child({ component: 'domain-checks' }),
                clock: s.clock,
                spfInclude: dnsSettings(config).spfInclude,
              },
              { everyMinutes: config.domainCheckMinutes },
            ).catch((err: Error) => logger.error({ error: err.message }, 'domain DNS checks failed'));
          }, Math.min(config.domainCheckMinutes, 5) * 60_000);
          domainChecks.unref();
          running.push('domain DNS checks', () => clearInterval(domainChecks));
        }
        // yesterday's TLS-RPT reports (RFC 8460), once a day
        if (sendsTlsReports(config))
          running.push('TLS reports', scheduleTlsReports(s, config.tlsrptCheckSeconds * 1000));
        if (config.reputationCheckSeconds > 0) {
          const settings = reputationSettings(config);
          const reputationLogger = logger.child({ component: 'reputation-guard' });
          const reputationChecks = setInterval(() => {
            runReputationChecks({ pool: database.pool, eventStore, logger: reputationLogger, clock: s.clock }, settings)
              .then((run) => {
                if (run.ran) reputationFigures = run.figures;
              })
              .catch((err: Error) => logger.error({ error: err.message }, 'reputation checks failed'));
          }, config.reputationCheckSeconds * 1000);
          reputationChecks.unref();
          running.push('reputation checks', () => clearInterval(reputationChecks));
        }
        const blocklists = blocklistSettings(config);
        if (config.dnsblCheckMinutes > 0 && blocklists.ipZones.length + blocklists.domainZones.length > 0) {
          const check = () =>
            runBlocklistChecks(
              {
                pool: database.pool,
                tenancy: s.tenancy,
                resolver: s.resolver,
                eventStore,
                logger: logger.child({ component: 'blocklists' }),
                clock: s.clock,
              },
              blocklists,
            ).catch((err: Error) => logger.error({ error: err.message }, 'blocklist checks failed'));
          // once soon after start (a listing is news), then every dnsblCheckMinutes
          const first = setTimeout(check, 10_000);
          const blocklistChecks = setInterval(check, config.dnsblCheckMinutes * 60_000);
          first.unref();
          blocklistChecks.unref();
          running.push('blocklist checks', () => {
            clearTimeout(first);
            clearInterval(blocklistChecks);
          });
        }
      },
    };
  },
};
