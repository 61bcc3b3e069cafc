import { createInboundServer } from '../../mta/inbound/inbound-server.js';
import { RouteDispatcher } from '../../mta/inbound/route-dispatcher.js';
import { EndpointDispatcher } from '../../mta/inbound/endpoint-dispatcher.js';
import { mailAuthenticator } from '../../mta/inbound/authentication.js';
import { inboundScan } from '../../mta/inbound/inbound-scan.js';
import { systemActor } from '../../domain/index.js';
import { EndpointQueue } from '../../infra/routes/index.js';
import { forwardThroughOwnMta } from '../inbound/forward.js';
import { returnToSender } from '../inbound/return-to-sender.js';
import type { Role } from './role.js';
import { closeSmtp, listenSmtp } from './smtp.js';

/** The inbound MX (bounces, complaints, replies, routed mail) and the dispatcher of routed mail. */
export const inboundRole: Role = {
  name: 'inbound',
  async setUp(s) {
    const dispatcher = new RouteDispatcher({
      routes: s.routes,
      contents: s.contents,
      logger: s.logger.child({ component: 'routes' }),
      retryDelays: s.config.routeRetryDelays,
      allowPrivate: s.config.routesAllowPrivateEndpoints,
    });
    const endpoints = new EndpointDispatcher({
      queue: new EndpointQueue(s.database.pool),
      routes: s.routes,
      contents: s.contents,
      eventStore: s.eventStore,
      logger: s.logger.child({ component: 'routes' }),
      clock: s.clock,
      retryDelays: s.config.routeRetryDelays,
      allowPrivate: s.config.routesAllowPrivateEndpoints,
      hostname: s.config.hostname,
      forward: forwardThroughOwnMta(s.send),
    });
    return {
      start(running) {
        dispatcher.start();
        running.push('route dispatcher (mail received before route modes)', () => dispatcher.stop());
        endpoints.start();
        running.push('endpoint dispatcher', () => endpoints.stop());
      },
    };
  },
  async listen(s, stack) {
    const { config, metrics } = s;
    const server = createInboundServer(
      {
        eventStore: s.eventStore,
        suppressions: s.send.suppressions,
        logger: s.logger,
        tenancy: s.tenancy,
        routes: s.routes,
        contents: s.contents,
        clock: s.clock,
        messageIds: s.send.ids,
        returnToSender: returnToSender(s.send),
        authenticate: mailAuthenticator(s.resolver, config.hostname, s.logger.child({ component: 'inbound' })),
        ...(s.scanner ? { scan: inboundScan(s.scanner, config.spamThreshold, config.scanFailure) } : {}),
        spamThresholds: async (serverId) => {
          const server = await s.tenancy.getServer(systemActor('inbound'), serverId);
          return {
            spam: (server.ok ? server.value.spamThreshold : null) ?? config.spamThreshold,
            fail: (server.ok ? server.value.spamFailThreshold : null) ?? config.spamFailThreshold,
          };
        },
      },
      {
        hostname: config.hostname,
        tls: await s.tls(),
        maxMessageBytes: config.maxMessageBytes,
        dmarcReportLocalPart: config.dmarcReportLocalPart,
        onMessage: (outcome) => metrics.smtpMessages.inc({ listener: 'inbound', outcome }),
      },
    );
    await listenSmtp(server, config.smtpHost, config.inboundPort, 'POSTLOG_INBOUND_PORT');
    stack.push('inbound MX', () => closeSmtp(server));
  },
};
