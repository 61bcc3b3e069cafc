import { z } from 'zod';
import { DnsRecord } from './dns-records.js';
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
  /** Accepted messages scoring at or above this (rspamd or SpamAssassin) are held as spam; null: not checked. */
  outboundSpamThreshold: z.number().nullable(),
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
});
export type SendingDomain = z.infer<typeof SendingDomain>;

export const Credential = z.object({
  id: z.string(),
  serverId: z.string(),
  kind: CredentialKind,
  name: z.string(),
  identifier: z.string().describe('api: the first characters of the key; smtp: the username'),
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
