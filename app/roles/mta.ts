import { getServers } from 'node:dns';
import type { Config } from '../../infra/config/index.js';
import { MtaWorker } from '../../mta/mta-worker.js';
import { DeliveryQueue } from '../../mta/queue/delivery-queue.js';
import { parseSmartHost, Router } from '../../mta/routing/router.js';
import { StsPolicyStore, trustedCas } from '../../infra/mta-sts/index.js';
import { MtaSts } from '../../mta/routing/mta-sts.js';
import { Dane } from '../../mta/routing/dane.js';
import { createValidatingResolver } from '../../infra/dns/index.js';
import { tlsPolicyFor, tlsPolicySourceFor } from '../../mta/routing/tls-policy.js';
import { ServerSettings } from '../../mta/settings/server-settings.js';
import { registerWarmupGauges } from '../../mta/shaping/warmup-gauges.js';
import type { Services } from '../services.js';
import { registerQueueDepthGauge } from './gauges.js';
import type { Role } from './role.js';
import { shapingOf } from './shaping.js';
import type { ShapingRuntime } from '../../mta/shaping/shaping-runtime.js';

/** Delivery: leases due messages from the queue and carries them to the recipients' servers. */
export const mtaRole: Role = {
  name: 'mta',
  async setUp(s, stack) {
    const shaping = shapingOf(s, stack);
    shaping.delivering = true;
    // every pool address not seen before starts its warm-up today
    await shaping.chooser.start();
    registerWarmupGauges(s.metrics, {
      rules: () => shaping.rules.rules,
      pools: s.config.ipPools,
      warmup: shaping.d.warmup,
      clock: s.clock,
    });
    const mta = createMta(s.config, s, shaping, s.config.mtaSts ? await loadMtaSts(s) : undefined);
    registerQueueDepthGauge(s.metrics, s.database);
    const { config } = s;
    // where mail goes is the first thing to check when it does not arrive
    s.logger.info(
      config.smartHost
        ? { smartHost: config.smartHost, tls: config.smartHostTls }
        : {
            mxPort: config.mtaPort,
            resolver: config.dnsServers.length > 0 ? config.dnsServers : [`system: ${getServers().join(', ')}`],
            // DANE believes this resolver's AD bit: worth seeing where it points
            dane: config.dane ? `on, validating resolver ${config.daneResolver}` : 'off',
          },
      config.smartHost
        ? `MTA: every message goes through the smart host ${config.smartHost}`
        : `MTA: delivering to the recipients' MX hosts on port ${config.mtaPort}`,
    );
    return {
      start(running) {
        mta.start();
        // finishes the SMTP transactions in progress and records their outcomes
        running.push('MTA', () => mta.stop());
      },
    };
  },
};

/**
 * MTA-STS with its policy cache: fetched policies are kept in PostgreSQL and the ones kept before
 * are read now, so a restart forgets no policy (nor needs its server up to apply it).
 */
async function loadMtaSts(s: Services): Promise<MtaSts> {
  const store = new StsPolicyStore(s.database.pool);
  const logger = s.logger.child({ component: 'mta-sts' });
  const mtaSts = new MtaSts(s.resolver, {
    clock: s.clock,
    ca: trustedCas(s.config.tlsExtraCaFile),
    store,
    onStoreError: (domain, err) => logger.warn({ domain, error: err.message }, 'an MTA-STS policy could not be kept'),
  });
  const taken = mtaSts.preload(await store.load(s.clock.now()));
  if (taken > 0) logger.info({ policies: taken }, 'MTA-STS policies kept from before');
  return mtaSts;
}

function createMta(config: Config, s: Services, shaping: ShapingRuntime, mtaSts: MtaSts | undefined): MtaWorker {
  const { clock } = s;
  const router = new Router(s.resolver, config.mtaPort, { clock, smartHost: parseSmartHost(config.smartHost) });
  // per provider of the shaping rules (config/shaping.yaml, POSTLOG_SHAPING_FILE), else per MX host
  const shaper = shaping.shaper;
  const servers = new ServerSettings(s.tenancy, clock);
  const logger = s.logger.child({ component: 'mta' });
  const caCertificates = trustedCas(config.tlsExtraCaFile);
  const smartHostTls = config.smartHost ? config.smartHostTls : undefined;
  return new MtaWorker({
    mtaSts,
    dane: config.dane ? new Dane(createValidatingResolver(config.daneResolver)) : undefined,
    caCertificates,
    tlsPolicySourceFor: (domain) => tlsPolicySourceFor(domain, { smartHostTls, destinations: config.destinations }),
    // the pool's address within the shaping rules' per-IP and per-pool rates and the warm-up
    bindingFor: async (serverId, mxHost) => {
      const server = await servers.of(serverId);
      return server ? shaping.chooser.choose(server, mxHost) : undefined;
    },
    messagesPerConnectionFor: (mxHost) => shaping.messagesPerConnection(mxHost),
    mayDeliver: (serverId) => servers.mayDeliver(serverId),
    queue: new DeliveryQueue(s.database.pool, `${config.hostname}:${process.pid}`),
    router,
    shaper,
    eventStore: s.eventStore,
    contents: s.contents,
    tenancy: s.tenancy,
    suppressions: s.send.suppressions,
    logger,
    metrics: s.metrics,
    clock,
    hostname: config.hostname,
    retryPolicy: { delaysSeconds: config.retryDelays, maxAgeSeconds: config.maxQueueHours * 3600 },
    tlsPolicyFor: (domain) =>
      tlsPolicyFor(domain, {
        smartHostTls,
        destinations: config.destinations,
        mtaTls: config.mtaTls,
      }),
    smartHostAuth:
      config.smartHostUser && config.smartHostPassword
        ? { user: config.smartHostUser, pass: config.smartHostPassword }
        : undefined,
    smartHostSecure: config.smartHost !== undefined && config.smartHostTls === 'tls',
    maxInFlight: config.mtaMaxInFlight,
    messagesPerConnection: config.mtaMessagesPerConnection,
    connectionsPerDestination: config.mtaMaxConnectionsPerDestination,
    leaseSeconds: config.mtaLeaseSeconds,
    pollMs: config.mtaPollMs,
  });
}
