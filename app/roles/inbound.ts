import { createInboundServer } from '../../mta/inbound/inbound-server.js';
import { RouteDispatcher } from '../../mta/inbound/route-dispatcher.js';
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
    return {
      start(running) {
        dispatcher.start();
        running.push('route dispatcher', () => dispatcher.stop());
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
      },
      {
        hostname: config.hostname,
        tls: await s.tls(),
        maxMessageBytes: config.maxMessageBytes,
        onMessage: (outcome) => metrics.smtpMessages.inc({ listener: 'inbound', outcome }),
      },
    );
    await listenSmtp(server, config.smtpHost, config.inboundPort, 'POSTLOG_INBOUND_PORT');
    stack.push('inbound MX', () => closeSmtp(server));
  },
};
