import {
  accountsSealedColumns,
  SessionActors,
  SessionStore,
  UserStore,
  UserTokenStore,
} from '../infra/accounts/index.js';
import { systemClock, type Clock } from '../infra/clock/index.js';
import type { Config } from '../infra/config/index.js';
import { DeliverabilityStore } from '../infra/deliverability/index.js';
import { ContentStore } from '../infra/content/index.js';
import { createResolver } from '../infra/dns/index.js';
import type { EventStore } from '../infra/event-store/index.js';
import { Authenticator } from '../infra/http/auth.js';
import type { Logger } from '../infra/logging/index.js';
import { MessageIdAllocator, SendLimits, SuppressionList } from '../infra/messages/index.js';
import type { Metrics } from '../infra/metrics/index.js';
import type { Database } from '../infra/postgres/index.js';
import { RouteStore } from '../infra/routes/index.js';
import { secretBoxFor, type SealedColumn, type SecretBox } from '../infra/secrets/index.js';
import { scannerFromSettings, type CombinedScanner } from '../infra/scanning/index.js';
import { TenancyStore, tenancySealedColumns } from '../infra/tenancy/index.js';
import { loadTlsMaterial, type TlsMaterial } from '../infra/tls/certificate.js';
import { SigningKeys, webhookSealedColumns } from '../infra/webhooks/index.js';
import type { SendApiDeps } from '../write-side/send/send-deps.js';
import { recipientRules } from '../write-side/send/recipient-rules.js';
import { ReputationPauses } from '../write-side/reputation/reputation-pauses.js';
import { isSupervised } from './cluster/supervisor-link.js';

/** What the roles of one process share: built once, after the database and the log are open. */
export interface Services {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** Dashboard users, their sessions and their one-time links. */
  accounts: { users: UserStore; sessions: SessionStore; tokens: UserTokenStore };
  /** The time every role reads (the system clock; the MTA, tracking, send APIs and retention take it). */
  clock: Clock;
  database: Database;
  eventStore: EventStore;
  tenancy: TenancyStore;
  auth: Authenticator;
  contents: ContentStore;
  /** Servers' deliverability settings (Feedback-ID, SMTP List-Unsubscribe, reputation thresholds). */
  deliverability: DeliverabilityStore;
  /** The accept path's dependencies (send APIs, SMTP submission). */
  send: SendApiDeps;
  routes: RouteStore;
  resolver: ReturnType<typeof createResolver>;
  signingKeys: SigningKeys;
  /** The box that seals and opens stored secrets (docs/operations.md, "Secrets"). */
  secrets: SecretBox;
  /** The SMTP listeners' certificate, loaded (or generated) once for all of them. */
  tls(): Promise<TlsMaterial>;
  /** The spam and virus scanners the configuration names (docs/scanning.md); none: undefined. */
  scanner: CombinedScanner | undefined;
}

export function dnsSettings(config: Config) {
  return {
    spfInclude: config.dnsSpfInclude ?? `spf.${config.hostname}`,
    returnPathTarget: config.dnsReturnPathTarget ?? `rp.${config.hostname}`,
    trackTarget: config.dnsTrackTarget ?? `track.${config.hostname}`,
  };
}

/**
 * The secret box of this process: POSTLOG_SECRETS_KEY (with POSTLOG_SECRETS_PREVIOUS_KEYS), or the
 * data dir's key file (made on first start, read again after a rotation).
 */
export function secretBoxOf(config: Config, logger: Logger): SecretBox {
  return secretBoxFor({
    configured: config.secretsKey,
    previous: config.secretsPreviousKeys.join(','),
    dataDir: config.dataDir,
    logger,
  });
}

/** Every column of sealed secrets, from the modules that own their tables. */
export const sealedColumns: SealedColumn[] = [
  ...tenancySealedColumns,
  ...webhookSealedColumns,
  ...accountsSealedColumns,
];

/**
 * The tenancy store with the key that seals its secrets (SMTP passwords, DKIM keys, tracking
 * keys). The CLI builds one too, so what it creates is sealed alike.
 */
export function tenancyStoreFor(
  config: Config,
  pool: Database['pool'],
  logger: Logger,
  secrets: SecretBox = secretBoxOf(config, logger),
): TenancyStore {
  return new TenancyStore(pool, dnsSettings(config), secrets);
}

export function buildServices(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  database: Database,
  eventStore: EventStore,
): Services {
  const secrets = secretBoxOf(config, logger);
  const tenancy = tenancyStoreFor(config, database.pool, logger, secrets);
  // the one place the process's time is chosen
  const clock: Clock = systemClock;
  const accounts = {
    users: new UserStore(database.pool, secrets),
    sessions: new SessionStore(database.pool, {
      idleMs: config.sessionIdleMinutes * 60_000,
      absoluteMs: config.sessionMaxHours * 3_600_000,
    }),
    tokens: new UserTokenStore(database.pool),
  };
  const auth = new Authenticator(
    tenancy,
    5000,
    new SessionActors(accounts.sessions, accounts.users, () => clock.now()),
  );
  const contents = new ContentStore(database.pool);
  const deliverability = new DeliverabilityStore(database.pool);
  const scanner = scannerFromSettings(config, { logger, failures: metrics.scannerFailures });
  const spamScanner = scanner?.spamOnly();
  const virusScanner = config.outboundVirusScan ? scanner?.virusOnly() : undefined;
  let tls: Promise<TlsMaterial> | undefined;
  return {
    config,
    logger,
    metrics,
    clock,
    accounts,
    database,
    eventStore,
    tenancy,
    auth,
    contents,
    deliverability,
    send: {
      publicUrl: () => config.publicUrl,
      eventStore,
      contents,
      ids: new MessageIdAllocator(database.pool),
      suppressions: new SuppressionList(database.pool, config.suppressionDays),
      sendLimits: new SendLimits(database.pool),
      reputationPauses: new ReputationPauses(eventStore),
      deliverability,
      tenancy,
      auth,
      hostname: config.hostname,
      maxMessageBytes: config.maxMessageBytes,
      recipients: recipientRules(config.addressLiterals),
      clock,
      spamCheck: spamScanner ? { scanner: spamScanner, failurePolicy: config.scanFailure } : undefined,
      virusCheck: virusScanner ? { scanner: virusScanner, failurePolicy: config.scanFailure } : undefined,
    },
    routes: new RouteStore(database.pool),
    resolver: createResolver(config.dnsServers),
    signingKeys: new SigningKeys(database.pool, secrets),
    secrets,
    scanner,
    tls: () =>
      (tls ??= loadTlsMaterial({
        certFile: config.tlsCertFile,
        keyFile: config.tlsKeyFile,
        dataDir: config.dataDir,
        hostname: config.hostname,
        logger,
        announced: isSupervised(),
      })),
  };
}
