import { hostname } from 'node:os';
import { z } from 'zod';

/**
 * The one configuration schema. Every setting has an environment variable (POSTLOG_ + the
 * key in SCREAMING_SNAKE_CASE) and the same camelCase key in an optional postlog.yaml.
 */
/** Decimal digits only: "0x1F90" or "8e3" are typos, not ports. */
const port = z
  .union([z.number(), z.string().regex(/^\d+$/, 'must be a port number').transform(Number)])
  .pipe(z.number().int().min(1).max(65535));
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
  httpPort: port.default(5000),
  submissionPort: port.default(2587),
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
  /** Requests per second per API key on the send API (429 beyond). */
  apiRateLimit: z.coerce.number().int().min(1).default(1000),
  /** Largest message accepted, in bytes (raw MIME). */
  maxMessageBytes: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(25 * 1024 * 1024),
  logLevel: z.enum(logLevels).default('info'),
  /** json for machines; pretty for a terminal. Default: pretty when stdout is a TTY. */
  logFormat: z.enum(['json', 'pretty']).optional(),
  environment: z.enum(['production', 'development']).default('development'),
  roles: commaList.pipe(z.array(RoleName)).default([...roleNames]),
  /** Milliseconds to let in-flight work finish on SIGINT/SIGTERM. */
  shutdownTimeoutMs: z.coerce.number().int().min(0).default(10_000),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigKey = keyof Config;
export const configKeys = Object.keys(ConfigSchema.shape) as ConfigKey[];

/** dataDir → POSTLOG_DATA_DIR */
export function envNameOf(key: string): string {
  return 'POSTLOG_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}
