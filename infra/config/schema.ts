import { hostname } from 'node:os';
import { z } from 'zod';
import { parseCidr } from '../../domain/values/cidr.js';
import { isSecretsKey } from '../secrets/secrets-key.js';

/**
 * The one configuration schema. Every setting has an environment variable (POSTLOG_ + the
 * key in SCREAMING_SNAKE_CASE) and the same camelCase key in an optional postlog.yaml.
 */
/** Decimal digits only: "0x1F90" or "8e3" are typos, not ports. */
const PORT = 'must be a port number (1-65535)';
const port = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z.number({ error: PORT }).int(PORT).min(1, PORT).max(65535, PORT),
);
const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const roleNames = ['api', 'smtp', 'inbound', 'mta', 'projector', 'tracking', 'graphql'] as const;
export const RoleName = z.enum(roleNames);
export type RoleName = z.infer<typeof RoleName>;

const commaList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0));

export const ConfigSchema = z.object({
  /** Where the embedded PostgreSQL cluster and other local state live. */
  dataDir: z.string().min(1).default('./data'),
  /** External PostgreSQL. Unset means: run the embedded server in dataDir. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** TCP port of the embedded PostgreSQL server (loopback only). */
  embeddedPgPort: port.default(54329),
  /** Connections per process in the pool. */
  databasePoolSize: z.coerce.number().int().min(2).max(500).default(20),
  httpHost: z.string().min(1).default('127.0.0.1'),
  /** How recipients reach Postlog's HTTP endpoints (tracking links, unsubscribe), e.g. https://mail.example.com. */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  httpPort: port.default(5000),
  /** SMTP submission with STARTTLS (587 in production). */
  submissionPort: port.default(2587),
  /** SMTP submission over implicit TLS (465 in production). */
  submissionTlsPort: port.default(2465),
  /** Address the SMTP listeners bind to. */
  smtpHost: z.string().min(1).default('127.0.0.1'),
  /** PEM certificate and key for SMTP TLS; a self-signed pair is generated in the data dir when unset. */
  tlsCertFile: z.string().min(1).optional(),
  tlsKeyFile: z.string().min(1).optional(),
  /** Offer AUTH before TLS (only for testing on loopback). */
  smtpAllowInsecureAuth: z.stringbool().default(false),
  smtpMaxRecipients: z.coerce.number().int().min(1).max(10_000).default(100),
  smtpMaxMessagesPerConnection: z.coerce.number().int().min(1).default(1000),
  /** Failed AUTH attempts per client IP and minute before the IP is refused for a while. */
  smtpAuthFailuresPerMinute: z.coerce.number().int().min(1).default(10),
  /**
   * The key that seals stored secrets (SMTP passwords, for CRAM-MD5): base64 of 32 random bytes.
   * Unset: a key file made in dataDir on first start. Hosts that share a database but not a data
   * dir need the same key.
   */
  secretsKey: z.string().refine(isSecretsKey, 'must be base64 of 32 random bytes (openssl rand -base64 32)').optional(),
  /**
   * Keys that sealed before secretsKey (rotation, docs/operations.md "Secrets"): they only open.
   * Comma-separated base64 of 32 bytes; only with secretsKey (the key file keeps its old keys itself).
   */
  secretsPreviousKeys: commaList
    .pipe(z.array(z.string().refine(isSecretsKey, 'each must be base64 of 32 random bytes')))
    .default([]),
  /**
   * Load balancers in front of the submission listeners that send the PROXY protocol (v1 or v2):
   * CIDR ranges. Connections from them must start with a header naming the real client.
   */
  smtpProxyFrom: commaList
    .pipe(
      z.array(
        z.string().superRefine((range, ctx) => {
          const parsed = parseCidr(range);
          if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `${range}: ${parsed.error}` });
        }),
      ),
    )
    .default([]),
  /** A dashboard session unused this many minutes ends. */
  sessionIdleMinutes: z.coerce.number().int().min(1).default(480),
  /** A dashboard session ends this many hours after login, used or not. */
  sessionMaxHours: z.coerce.number().int().min(1).default(168),
  /** Failed dashboard logins per account and minute, then per client address, before they are refused a while. */
  loginFailuresPerAccount: z.coerce.number().int().min(1).default(5),
  loginFailuresPerAddress: z.coerce.number().int().min(1).default(20),
  /** Postlog's own mail (password resets, invitations) comes from this address; its domain must be verified on a server. */
  accountMailFrom: z.email().optional(),
  /** Single sign-on with an OpenID Connect provider: its issuer URL, and this client's id and secret there. */
  oidcIssuer: z.url({ protocol: /^https?$/ }).optional(),
  oidcClientId: z.string().min(1).optional(),
  oidcClientSecret: z.string().min(1).optional(),
  /** The provider's name on the login button. */
  oidcName: z.string().min(1).max(60).default('single sign-on'),
  /** Allow an http:// issuer: only for a provider on this machine (tests). */
  oidcAllowHttp: z.stringbool().default(false),
  /** Invitation and password-reset links stay valid this many hours. */
  accountLinkHours: z.coerce.number().int().min(1).max(720).default(72),
  /** Seconds between attempts to hand a routed message to its HTTP endpoint; then it fails. */
  routeRetryDelays: z
    .union([z.string(), z.array(z.union([z.string(), z.number()]))])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((x) => Number(String(x).trim())))
    .pipe(z.array(z.number().int().min(1)).min(1))
    .default([60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800]),
  /** Days an automatically added suppression (bounce, complaint) lasts. */
  suppressionDays: z.coerce.number().int().min(1).default(30),
  inboundPort: port.default(2525),
  /** Resolver(s) for MX lookups, "ip" or "ip:port"; system resolver when empty. */
  dnsServers: commaList
    .pipe(z.array(z.string().regex(/^[0-9a-fA-F:.[\]]+$/, 'must be IP addresses, optionally with :port')))
    .default([]),
  /** Port of recipients' SMTP servers. */
  mtaPort: port.default(25),
  /** Our name in EHLO, Received headers and logs. */
  hostname: z.string().min(1).default(hostname()),
  /** SPF include for sending domains; default spf.<hostname>. */
  dnsSpfInclude: z.string().min(1).optional(),
  /** Target of each domain's return-path CNAME; default rp.<hostname>. */
  dnsReturnPathTarget: z.string().min(1).optional(),
  /** Target of each track domain's CNAME (Postlog's tracking host); default track.<hostname>. */
  dnsTrackTarget: z.string().min(1).optional(),
  /** Minutes between DNS checks of each verified domain (the projector role runs them); 0: none. */
  domainCheckMinutes: z.coerce.number().min(0).default(60),
  /**
   * When set, GET /metrics needs "Authorization: Bearer <token>" (it reveals tenants' recipient
   * domains). In production it is required unless httpHost is a loopback address (then only this
   * machine reaches /metrics); start-up says which of the two guards /metrics.
   */
  metricsToken: z.string().min(16).optional(),
  /**
   * Browser origins (scheme://host[:port], comma-separated) whose pages may call the API and
   * /graphql cross-origin (CORS). Empty (the default): no CORS headers at all, so browsers refuse
   * every cross-origin read. Authentication is by header, so no origin is sent credentials.
   */
  corsOrigins: commaList
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^https?:\/\/[^\s/?#*]+$/,
            'must be origins such as https://app.example.com (scheme://host[:port], no path, no *)',
          ),
      ),
    )
    .default([]),
  /**
   * Recipients written as address literals, user@[192.0.2.1] or user@[IPv6:2001:db8::1]: `refuse`
   * (the default), `public` (taken when the IP is a public address) or `any` (private and loopback
   * too: testing only). A literal skips the domain's MX and policies, and mail goes to that IP.
   */
  addressLiterals: z.enum(['refuse', 'public', 'any']).default('refuse'),
  /** Let routes post to loopback, private and link-local addresses (only for testing). */
  routesAllowPrivateEndpoints: z.stringbool().default(false),
  /**
   * Seconds to wait after a webhook's attempt 1, 2, …; the last delay repeats until
   * webhookMaxAgeHours have passed since the event, then the delivery is given up.
   */
  webhookRetryDelays: z
    .union([z.string(), z.array(z.union([z.string(), z.number()]))])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((x) => Number(String(x).trim())))
    .pipe(z.array(z.number().min(0.01)).min(1))
    .default([60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800]),
  /** Give a webhook delivery up this many hours after its event (or its manual redelivery). */
  webhookMaxAgeHours: z.coerce
    .number()
    .min(0.001)
    .max(24 * 30)
    .default(24),
  /** Consecutive failed attempts that open an endpoint's circuit breaker (pause it). */
  webhookCircuitBreakerFailures: z.coerce.number().int().min(1).default(10),
  /** Seconds an open circuit pauses its endpoint before one probe delivery decides (half-open). */
  webhookCircuitBreakerCooldownSeconds: z.coerce.number().min(0.1).default(300),
  /** Seconds to wait for an endpoint's answer. */
  webhookTimeoutSeconds: z.coerce.number().min(0.1).max(300).default(30),
  /** Webhook requests in flight at once per process. */
  webhookConcurrency: z.coerce.number().int().min(1).max(10_000).default(100),
  webhookPollMs: z.coerce.number().int().min(10).default(500),
  /** Days finished deliveries stay in the delivery log. */
  webhookLogDays: z.coerce.number().min(1).default(14),
  /** Let webhook endpoints be loopback, private and link-local addresses (only for testing). */
  webhooksAllowPrivateEndpoints: z.stringbool().default(false),
  /** Requests per second per API key on the send API (429 beyond). */
  apiRateLimit: z.coerce.number().int().min(1).default(1000),
  /** Largest message accepted, in bytes (raw MIME). */
  maxMessageBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(25 * 1024 * 1024),
  /** Relay everything through this host ("host:port") instead of MX lookups. */
  smartHost: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
    .optional(),
  /** starttls (opportunistic upgrade, required), tls (implicit, port 465 style) or none. */
  smartHostTls: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  smartHostUser: z.string().optional(),
  smartHostPassword: z.string().optional(),
  /** STARTTLS towards recipients' servers: opportunistic (default), require or none. */
  mtaTls: z.enum(['opportunistic', 'require', 'none']).default('opportunistic'),
  /** MTA-STS (RFC 8461) towards recipients' domains that publish a policy; off: only mtaTls applies. */
  mtaSts: z.stringbool().default(true),
  /** PEM file of CA certificates trusted besides the system's, for MTA-STS policy servers and MX hosts. */
  tlsExtraCaFile: z.string().min(1).optional(),
  /** DANE (RFC 7672) towards MX hosts with DNSSEC-signed TLSA records; opt-in (it needs a validating resolver). */
  dane: z.stringbool().default(false),
  /**
   * The DNSSEC-validating resolver ("host:port") DANE asks; only its AD bit makes a TLSA record count, so it
   * must be trusted and reached over a path nobody can tamper with (a local unbound, say).
   */
  daneResolver: z
    .string()
    .regex(/^\S+:\d{1,5}$/, 'must be host:port')
    .default('127.0.0.1:53'),
  /** TLS-RPT (RFC 8460): send the daily reports to the domains that ask for them; unset: as mtaSts. */
  tlsrptSend: z.stringbool().optional(),
  /** The organization-name of the reports; unset: the host name. */
  tlsrptOrganization: z.string().min(1).max(200).optional(),
  /** mailto: reports come from this address (its domain verified on a server); unset: accountMailFrom. */
  tlsrptFrom: z.email().optional(),
  /** How often the projector looks whether yesterday's TLS reports are due (and retries failed ones). */
  tlsrptCheckSeconds: z.coerce.number().int().min(1).max(86_400).default(900),
  /** Messages being delivered at once by one MTA process. */
  mtaMaxInFlight: z.coerce.number().int().min(1).max(100_000).default(500),
  /** Messages one SMTP connection carries before it is closed. */
  mtaMessagesPerConnection: z.coerce.number().int().min(1).max(10_000).default(100),
  /** Connections at once per destination (an MX host) unless `destinations` says otherwise. */
  mtaMaxConnectionsPerDestination: z.coerce.number().int().min(1).max(1000).default(20),
  /** Messages per minute per destination; 0 = no limit. */
  mtaMessagesPerMinutePerDestination: z.coerce.number().int().min(0).default(0),
  /**
   * The operator's shaping rules (YAML), merged over the shipped config/shaping.yaml: per-provider
   * limits and back-off, per-IP and per-pool rates, IP warm-up. Read again on change and on SIGHUP.
   */
  shapingFile: z.string().min(1).optional(),
  /** How long a worker owns the messages it took; a dead worker's messages return after this. */
  mtaLeaseSeconds: z.coerce.number().int().min(5).default(600),
  mtaPollMs: z.coerce.number().int().min(10).default(250),
  /** Retry delays in seconds after attempt 1, 2, …; the last one repeats. */
  retryDelays: z
    .union([z.string(), z.array(z.union([z.string(), z.number()]))])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((x) => Number(String(x).trim())))
    .pipe(z.array(z.number().int().min(1)).min(1))
    .default([60, 120, 300, 600, 1200, 2400, 3600, 7200, 14400]),
  /** Give up (Failed) this many hours after a message was accepted. */
  maxQueueHours: z.coerce.number().min(0.01).default(72),
  /** Per-destination overrides (postlog.yaml): keys are MX host names or recipient domains. */
  destinations: z
    .record(
      z.string(),
      z.object({
        maxConnections: z.number().int().min(1).optional(),
        messagesPerMinute: z.number().int().min(0).optional(),
        tls: z.enum(['opportunistic', 'require', 'none']).optional(),
      }),
    )
    .default({}),
  /**
   * Sending IP pools (postlog.yaml): name → local addresses to bind, each with its EHLO name and a
   * weight. A server uses the pool named in its ipPool setting; others use the default route.
   */
  ipPools: z
    .record(
      z.string().min(1),
      z
        .array(
          z.object({
            address: z.string().min(2),
            ehlo: z.string().min(1).optional(),
            weight: z.number().positive().default(1),
          }),
        )
        .min(1),
    )
    .default({}),
  /** Where the event log lives: postgres (the database above; default) or esdb (EventStoreDB/KurrentDB at esdbUrl). */
  eventStore: z.enum(['postgres', 'esdb']).default('postgres'),
  /** EventStoreDB/KurrentDB connection string, e.g. kurrentdb://localhost:2113?tls=false (with eventStore: esdb). */
  esdbUrl: z
    .string()
    .regex(/^(esdb|kurrentdb|kurrent|kdb)(\+discover)?:\/\//, 'must be a kurrentdb:// (or esdb://) connection string')
    .optional(),
  /** Kafka bootstrap brokers, "host:port,host:port": when set, every event is published to Kafka. */
  kafkaBrokers: commaList.pipe(z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'must be host:port'))).default([]),
  /** The topic every event goes to (key: the message id). */
  kafkaTopic: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a valid Kafka topic name')
    .default('postlog.events'),
  /** Publish each event type to its own topic, <kafkaTopic>.<EventType>, instead of the one topic. */
  kafkaTopicPerType: z.stringbool().default(false),
  kafkaClientId: z.string().min(1).default('postlog'),
  /** Partitions of the topics Postlog creates when they do not exist (existing topics keep theirs). */
  kafkaPartitions: z.coerce.number().int().min(1).max(10_000).default(6),
  /** Compression of the records sent to Kafka: none or gzip. */
  kafkaCompression: z.enum(['none', 'gzip']).default('none'),
  /** Events per produce request; the checkpoint moves once per acknowledged batch. */
  kafkaBatchSize: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** Connect to the brokers over TLS (trusting the system's CAs, or kafkaSslCaFile). */
  kafkaSsl: z.stringbool().default(false),
  /** PEM file of the CA(s) that signed the brokers' certificates (implies kafkaSsl). */
  kafkaSslCaFile: z.string().min(1).optional(),
  /** SASL authentication to the brokers: plain, scram-sha-256 or scram-sha-512 (with kafkaSaslUsername/Password). */
  kafkaSaslMechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  kafkaSaslUsername: z.string().min(1).optional(),
  kafkaSaslPassword: z.string().min(1).optional(),
  /** ClickHouse HTTP endpoint, e.g. http://localhost:8123: analytics go there; to Postgres tables otherwise. */
  clickhouseUrl: z.url({ protocol: /^https?$/ }).optional(),
  clickhouseDatabase: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier')
    .default('postlog'),
  clickhouseUser: z.string().min(1).default('default'),
  clickhousePassword: z.string().default(''),
  // Spam and virus scanning (docs/scanning.md): each scanner is on when its address is set.
  /** rspamd's normal worker, e.g. http://127.0.0.1:11333 (POST /checkv2). */
  rspamdUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** SpamAssassin's spamd (the spamc protocol). */
  spamdHost: z.string().min(1).optional(),
  spamdPort: port.default(783),
  /** ClamAV's clamd over TCP (clamdHost, clamdPort) or its Unix socket (clamdSocket). */
  clamdHost: z.string().min(1).optional(),
  clamdPort: port.default(3310),
  clamdSocket: z.string().min(1).optional(),
  /** Seconds a scanner has to answer; then the message goes on as POSTLOG_SCAN_FAILURE says. */
  scanTimeoutSeconds: z.coerce.number().min(0.1).max(300).default(10),
  /** Messages larger than this are not sent to the scanners (they go on unscanned, as spamc does). */
  scanMaxBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(25 * 1024 * 1024),
  /** A scanner down or too slow: accept the message unscanned (fail-open), or tempfail it (451/503: retry later). */
  scanFailure: z.enum(['accept', 'tempfail']).default('accept'),
  /** Scan every outgoing message for viruses before it is accepted (when clamd is configured; off: never). */
  outboundVirusScan: z.stringbool().default(true),
  /** A server's spam threshold unless it sets its own (Postal: 5): at or above, a message is spam. */
  spamThreshold: z.coerce.number().default(5),
  /** At or above this spam score a message is refused whatever else is set (Postal: 20). */
  spamFailThreshold: z.coerce.number().default(20),
  // the reputation guard (docs/deliverability.md): rates over a sliding window, thresholds in percent
  /** Hours of the sliding window the complaint and hard-bounce rates are measured over. */
  reputationWindowHours: z.coerce
    .number()
    .min(1)
    .max(24 * 30)
    .default(24),
  /** Below this many messages in the window (delivered; for bounces, delivered and bounced) a rate counts for nothing. */
  reputationMinVolume: z.coerce.number().int().min(1).default(1000),
  reputationComplaintWarnPercent: z.coerce.number().min(0).max(100).default(0.1),
  reputationComplaintPausePercent: z.coerce.number().min(0).max(100).default(0.3),
  reputationBounceWarnPercent: z.coerce.number().min(0).max(100).default(2),
  reputationBouncePausePercent: z.coerce.number().min(0).max(100).default(5),
  /** Seconds between checks of the rates (the projector does them); 0: the guard is off. */
  reputationCheckSeconds: z.coerce.number().min(0).default(60),
  // Deliverability: DMARC reports in and blocklist monitoring (docs/deliverability.md).
  /**
   * The local part of the address DMARC aggregate reports are mailed to (the `rua` the domain's
   * suggested DMARC record names): the inbound MX takes <localPart>@<a verified domain> and
   * <localPart>@<hostname>. Empty: no reports are taken.
   */
  dmarcReportLocalPart: z
    .string()
    .regex(/^([A-Za-z0-9][A-Za-z0-9._+-]{0,63})?$/, 'must be a plain local part, e.g. dmarc-reports')
    .default('dmarc-reports'),
  /** DNS blocklists of IP addresses our sending IPs (ipPools) are looked up in, e.g. zen.spamhaus.org. */
  dnsblZones: commaList.pipe(z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'must be DNS zones'))).default([]),
  /** DNS blocklists of domains our verified sending domains are looked up in, e.g. dbl.spamhaus.org. */
  dnsblDomainZones: commaList
    .pipe(z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/i, 'must be DNS zones')))
    .default([]),
  /** Minutes between blocklist checks (the projector role runs them); 0: none. */
  dnsblCheckMinutes: z.coerce.number().min(0).default(60),
  logLevel: z.enum(logLevels).default('info'),
  /** json for machines; pretty for a terminal. Default: pretty when stdout is a TTY. */
  logFormat: z.enum(['json', 'pretty']).optional(),
  environment: z.enum(['production', 'development']).default('development'),
  roles: commaList.pipe(z.array(RoleName)).default([...roleNames]),
  /**
   * Node processes `postlog start` runs: 1 runs every role in this one process; with more, a
   * supervisor runs the roles clients connect to in processes that share the ports, and the MTA
   * and projector in one of their own (see app/cluster). auto: one per CPU (a container's CPU
   * quota counts), at most 8.
   */
  processes: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(64)]).default('auto'),
  /** Milliseconds to let in-flight work finish on SIGINT/SIGTERM. */
  shutdownTimeoutMs: z.coerce.number().int().min(0).default(10_000),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Settings that only make sense together: each problem starts with the environment variable to fix. */
/**
 * Settings that are valid alone but not together. `source` names where each value came from (the
 * variable or the file key) so the message points at what the operator wrote.
 */
export function crossSettingProblems(config: Config, source: Record<string, string> = {}): string[] {
  const problems: string[] = [];
  if (config.eventStore === 'esdb' && config.esdbUrl === undefined) {
    problems.push(
      `${envNameOf('esdbUrl')}: required when ${source.eventStore ?? envNameOf('eventStore')} is esdb (e.g. kurrentdb://localhost:2113?tls=false)`,
    );
  }
  const { kafkaSaslMechanism: mechanism, kafkaSaslUsername: username, kafkaSaslPassword: password } = config;
  if (mechanism && (!username || !password))
    problems.push('POSTLOG_KAFKA_SASL_MECHANISM: needs POSTLOG_KAFKA_SASL_USERNAME and POSTLOG_KAFKA_SASL_PASSWORD');
  if (!mechanism && (username || password))
    problems.push(
      'POSTLOG_KAFKA_SASL_MECHANISM: required with POSTLOG_KAFKA_SASL_USERNAME and POSTLOG_KAFKA_SASL_PASSWORD (plain, scram-sha-256 or scram-sha-512)',
    );
  const oidc = [config.oidcIssuer, config.oidcClientId, config.oidcClientSecret];
  if (oidc.some((v) => v !== undefined) && oidc.some((v) => v === undefined))
    problems.push('POSTLOG_OIDC_ISSUER, POSTLOG_OIDC_CLIENT_ID and POSTLOG_OIDC_CLIENT_SECRET: set all three, or none');
  if (config.oidcIssuer?.startsWith('http://') && !config.oidcAllowHttp)
    problems.push(
      'POSTLOG_OIDC_ISSUER: must be https:// (POSTLOG_OIDC_ALLOW_HTTP=true only for a provider on this machine)',
    );
  // /metrics shows every tenant's recipient domains: in production it is never open to the network
  if (config.environment === 'production' && config.metricsToken === undefined && !isLoopbackHost(config.httpHost)) {
    problems.push(
      `${envNameOf('metricsToken')}: required in production when ${source.httpHost ?? envNameOf('httpHost')} (${config.httpHost}) is not a loopback address: ` +
        "/metrics shows every tenant's recipient domains (set a token of at least 16 characters, or listen on 127.0.0.1)",
    );
  }
  if (config.clamdHost !== undefined && config.clamdSocket !== undefined)
    problems.push('POSTLOG_CLAMD_HOST and POSTLOG_CLAMD_SOCKET: set one of them (clamd over TCP, or its Unix socket)');
  if (config.spamFailThreshold < config.spamThreshold)
    problems.push(
      `POSTLOG_SPAM_FAIL_THRESHOLD: must be at least POSTLOG_SPAM_THRESHOLD (${config.spamThreshold}), is ${config.spamFailThreshold}`,
    );
  return problems;
}
/** Whether a listen address only takes connections from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

export type ConfigKey = keyof Config;
export const configKeys = Object.keys(ConfigSchema.shape) as ConfigKey[];

/** dataDir → POSTLOG_DATA_DIR */
export function envNameOf(key: string): string {
  return `POSTLOG_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}
