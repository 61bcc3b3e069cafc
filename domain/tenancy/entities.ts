import { z } from 'zod';
import { DnsRecord } from './dns-records.js';
import { DnsHealth } from './tenancy-events.js';
import { CredentialKind, DkimAlgorithm, ServerMode } from './schemas.js';

/**
 * What tenancy holds, as the management API answers it (these schemas are its OpenAPI document's
 * too) and as the send path, the MTA and tracking read it. Times are ISO 8601 strings.
 */
const isoTime = z.string().describe('ISO 8601 time');

export const Organization = z.object({ id: z.string(), name: z.string(), createdAt: isoTime });
export type Organization = z.infer<typeof Organization>;

export const Server = z.object({
  id: z.string(),
  organizationId: z.string(),
  name: z.string(),
  mode: ServerMode,
  sendLimitPerHour: z.number().nullable(),
  retentionDays: z.number(),
  suspended: z.boolean(),
  suspendedReason: z.string().nullable(),
  ipPool: z.string().nullable(),
  trackOpens: z.boolean(),
  trackClicks: z.boolean(),
  trackingBaseUrl: z.string().nullable(),
  trackingExcludedDomains: z.array(z.string()),
  listUnsubscribe: z.boolean(),
  privacyMode: z.boolean().describe("no client address or host name in submitted mail's Received header"),
  postmasterAddress: z
    .string()
    .nullable()
    .describe("the From of mail Postlog sends on the server's behalf, at a verified domain of the server"),
  allowedSenders: z
    .array(z.string())
    .describe("addresses or domains a Sender header may name besides the server's verified domains"),
  /** Accepted messages scoring at or above this (rspamd or SpamAssassin) are held as spam; null: not checked. */
  outboundSpamThreshold: z.number().nullable(),
  /** Incoming mail scoring at or above this is spam for the routes' spam modes; null: POSTLOG_SPAM_THRESHOLD. */
  spamThreshold: z.number().nullable(),
  /** Incoming mail scoring at or above this is refused whatever the route; null: POSTLOG_SPAM_FAIL_THRESHOLD. */
  spamFailThreshold: z.number().nullable(),
  createdAt: isoTime,
});
export type Server = z.infer<typeof Server>;

/** The tracking keys of a server: kept out of Server so they never reach an API answer. */
export const TrackingKeys = z.object({ current: z.string(), previous: z.string().nullable() });
export type TrackingKeys = z.infer<typeof TrackingKeys>;

export const DkimKey = z.object({
  selector: z.string(),
  algorithm: DkimAlgorithm,
  publicKeyB64: z.string(),
  active: z.boolean(),
  createdAt: isoTime,
  retiredAt: isoTime.nullable(),
});
export type DkimKey = z.infer<typeof DkimKey>;

export const Domain = z.object({
  id: z.string(),
  serverId: z.string(),
  name: z.string(),
  verified: z.boolean(),
  verifiedAt: isoTime.nullable(),
  returnPathDomain: z.string(),
  dkimKeys: z.array(DkimKey),
  dnsRecords: z.array(DnsRecord),
  /** The last periodic DNS check (POSTLOG_DOMAIN_CHECK_MINUTES); null until a verified domain had one. */
  dnsCheck: z
    .object({
      status: z.enum(['ok', 'failing']),
      checkedAt: isoTime,
      /** Per kind of record: Postal's status (OK, Missing, Invalid) and what is wrong. */
      health: DnsHealth,
    })
    .nullable(),
  createdAt: isoTime,
});
export type Domain = z.infer<typeof Domain>;

/** What the send path needs of a sending domain: verification and the signing keys. */
export const SendingDomain = z.object({
  id: z.string(),
  name: z.string(),
  verified: z.boolean(),
  returnPathDomain: z.string(),
  signingKeys: z.array(z.object({ selector: z.string(), algorithm: DkimAlgorithm, privateKeyPem: z.string() })),
  /** Where the links of its messages point: its verified track domain (https://click.example.com), if it has one. */
  trackingBaseUrl: z.string().nullable().optional(),
});
export type SendingDomain = z.infer<typeof SendingDomain>;

/**
 * A sending domain's track domain: tracking links of its messages point there once the CNAME
 * record (`dnsRecord`) is found by a check; until then, and when a later check misses it, the
 * server's tracking base URL (or Postlog's public URL) is used.
 */
export const TrackDomain = z.object({
  id: z.string(),
  domainId: z.string(),
  serverId: z.string(),
  /** The full host name, e.g. click.example.com. */
  name: z.string(),
  https: z.boolean(),
  /** The CNAME was found at the last check. */
  verified: z.boolean(),
  verifiedAt: isoTime.nullable(),
  dnsCheckedAt: isoTime.nullable(),
  /** The tracking links' base: https://click.example.com. */
  baseUrl: z.string(),
  dnsRecord: z.object({ type: z.literal('CNAME'), name: z.string(), value: z.string() }),
  createdAt: isoTime,
});
export type TrackDomain = z.infer<typeof TrackDomain>;

export const Credential = z.object({
  id: z.string(),
  serverId: z.string(),
  kind: CredentialKind,
  name: z.string(),
  identifier: z
    .string()
    .describe('api: the first characters of the key; smtp: the username; smtp-ip: the range; ses: the access key id'),
  createdAt: isoTime,
  lastUsedAt: isoTime.nullable(),
  revoked: z.boolean(),
});
export type Credential = z.infer<typeof Credential>;

/** An admin token as it may be shown: its first characters, never the token. */
export const AdminTokenInfo = z.object({
  id: z.string(),
  organizationId: z.string().nullable(),
  name: z.string(),
  tokenPrefix: z.string(),
  createdAt: isoTime,
  revoked: z.boolean(),
});
export type AdminTokenInfo = z.infer<typeof AdminTokenInfo>;
