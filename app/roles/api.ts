import { IdempotencyKeys } from '../../infra/messages/index.js';
import { EndpointQueue } from '../../infra/routes/index.js';
import { TemplateStore } from '../../infra/templates/index.js';
import { templateRoutes } from '../../write-side/templates/template-routes.js';
import { WebhookStore } from '../../infra/webhooks/index.js';
import { jwksRoutes } from '../../read-api/jwks-routes.js';
import { messageCsvRoutes } from '../../read-api/message-csv-routes.js';
import { messageListRoutes } from '../../read-api/message-list-routes.js';
import { postalMessageRoutes } from '../../read-api/postal-message-routes.js';
import { v2MessageRoutes } from '../../read-api/v2-message-routes.js';
import { ipPoolRoutes } from '../../write-side/admin/ip-pool-routes.js';
import { tlsReportRoutes } from '../../read-api/tls-report-routes.js';
import { dmarcReportRoutes } from '../../read-api/dmarc-report-routes.js';
import { blocklistRoutes } from '../../read-api/blocklist-routes.js';
import { managementRoutes } from '../../write-side/admin/management-routes.js';
import { messageActionRoutes } from '../../write-side/admin/message-action-routes.js';
import { routeRoutes } from '../../write-side/admin/route-routes.js';
import { reputationRoutes } from '../../write-side/reputation/reputation-routes.js';
import { deliverabilityRoutes } from '../../write-side/admin/deliverability-routes.js';
import { reputationSettings } from '../../write-side/reputation/reputation-settings.js';
import { suppressionRoutes } from '../../write-side/admin/suppression-routes.js';
import { trackDomainRoutes } from '../../write-side/admin/track-domain-routes.js';
import { webhookRoutes } from '../../write-side/admin/webhook-routes.js';
import { postalSendRoutes } from '../../write-side/send/postal-send-routes.js';
import { testMessageRoute } from '../../write-side/send/test-message-route.js';
import { v2SendRoutes } from '../../write-side/send/v2-send-routes.js';
import { postmarkRoutes } from '../../write-side/vendors/postmark/postmark-routes.js';
import { sesRoutes } from '../../write-side/vendors/ses/ses-routes.js';
import { sendGridRoutes } from '../../write-side/vendors/sendgrid/sendgrid-routes.js';
import { mailgunRoutes } from '../../write-side/vendors/mailgun/mailgun-routes.js';
import { AuthThrottle } from '../../write-side/smtp/auth-throttle.js';
import { sessionRoutes } from '../../write-side/accounts/session-routes.js';
import { userRoutes } from '../../write-side/accounts/user-routes.js';
import { oidcRoutes } from '../../write-side/accounts/oidc-routes.js';
import { OidcLogin } from '../../infra/accounts/index.js';
import { accountMailer } from '../../write-side/accounts/account-mail.js';
import type { Config } from '../../infra/config/index.js';
import { projectionStatusRoute } from '../http/projection-status-route.js';
import type { Role } from './role.js';
import { shapingOf } from './shaping.js';
import { shapingRoutes } from '../../mta/shaping/shaping-routes.js';

/** The HTTP APIs: sending (Postal's and ours), reading messages, managing tenants, acting on messages. */
export const apiRole: Role = {
  name: 'api',
  async setUp(s, stack) {
    const { send, tenancy, auth, eventStore, contents, database, config } = s;
    const read = { eventStore, contents, auth, tenancy };
    const templates = new TemplateStore(database.pool);
    const accounts = {
      ...s.accounts,
      loginThrottle: {
        address: new AuthThrottle(config.loginFailuresPerAddress),
        account: new AuthThrottle(config.loginFailuresPerAccount),
      },
      secureCookies: config.publicUrl?.startsWith('https://') ?? false,
      now: () => s.clock.now(),
      logger: s.logger.child({ component: 'accounts' }),
      linkHours: config.accountLinkHours,
      linkBase: config.publicUrl?.replace(/\/$/, '') ?? `http://${config.httpHost}:${config.httpPort}`,
      mailer: accountMailer(send, config.accountMailFrom),
    };
    const routes = [
      postalSendRoutes(send),
      v2SendRoutes({ ...send, idempotency: new IdempotencyKeys(database.pool), templates }),
      templateRoutes({ ...send, templates }),
      postmarkRoutes({ ...send, templates }),
      sesRoutes({ ...send, templates }),
      sendGridRoutes({ ...send, templates }),
      mailgunRoutes({ ...send, templates }),
      testMessageRoute(send),
      postalMessageRoutes(read),
      v2MessageRoutes(read),
      messageListRoutes({ ...read, pool: database.pool }),
      messageCsvRoutes({ ...read, pool: database.pool }),
      managementRoutes({ tenancy, auth, resolver: s.resolver }),
      trackDomainRoutes({ tenancy, auth, resolver: s.resolver }),
      ipPoolRoutes({ pools: config.ipPools, tenancy, auth }),
      messageActionRoutes({ eventStore, routes: s.routes, auth, tenancy, pool: database.pool }),
      suppressionRoutes({ suppressions: send.suppressions, auth, tenancy }),
      routeRoutes({ routes: s.routes, endpointQueue: new EndpointQueue(database.pool), auth, tenancy }),
      webhookRoutes({
        webhooks: new WebhookStore(database.pool, s.secrets),
        auth,
        tenancy,
        allowPrivate: config.webhooksAllowPrivateEndpoints,
      }),
      sessionRoutes(accounts),
      projectionStatusRoute({ config, database, eventStore, auth }),
      tlsReportRoutes({ pool: database.pool, auth }),
      shapingRoutes({ runtime: shapingOf(s, stack), auth }),
      reputationRoutes({
        pool: database.pool,
        eventStore,
        auth,
        tenancy,
        clock: s.clock,
        settings: reputationSettings(config),
        deliverability: s.deliverability,
      }),
      deliverabilityRoutes({ deliverability: s.deliverability, auth, tenancy }),
      dmarcReportRoutes({ pool: database.pool, auth, tenancy }),
      blocklistRoutes({
        pool: database.pool,
        auth,
        tenancy,
        zones: { ip: config.dnsblZones, domain: config.dnsblDomainZones, checkMinutes: config.dnsblCheckMinutes },
      }),
      userRoutes({ ...accounts, auth, tenancy }),
      oidcRoutes({ ...accounts, ...oidcLogin(config, accounts.linkBase) }),
      // the public key receivers verify webhook signatures with
      jwksRoutes({ keys: s.signingKeys }),
    ];
    return { routes };
  },
};

/** Single sign-on, when the configuration names a provider (all three settings: loadConfig checks). */
function oidcLogin(config: Config, linkBase: string) {
  const redirectUri = `${linkBase}/v2/session/oidc/callback`;
  const { oidcIssuer: issuer, oidcClientId: clientId, oidcClientSecret: clientSecret } = config;
  return {
    redirectUri,
    oidcName: config.oidcName,
    oidc:
      issuer && clientId && clientSecret
        ? new OidcLogin({ issuer, clientId, clientSecret, redirectUri, allowHttp: config.oidcAllowHttp })
        : undefined,
  };
}
