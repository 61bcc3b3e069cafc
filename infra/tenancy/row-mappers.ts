// biome-ignore-all lint/suspicious/noExplicitAny: the row mappers take pg rows, which are untyped; each mapper is where a row gets its type
import type { AdminTokenInfo, Credential, Organization, Server } from '../../domain/index.js';

/** Tenancy rows as the domain's types. */

export const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const toOrganization = (r: any): Organization => ({ id: r.id, name: r.name, createdAt: iso(r.created_at)! });

export const toServer = (r: any): Server => ({
  id: r.id,
  organizationId: r.organization_id,
  name: r.name,
  mode: r.mode,
  sendLimitPerHour: r.send_limit_per_hour,
  retentionDays: r.retention_days,
  suspended: r.suspended,
  suspendedReason: r.suspended_reason,
  ipPool: r.ip_pool ?? null,
  trackOpens: r.track_opens ?? true,
  trackClicks: r.track_clicks ?? true,
  trackingBaseUrl: r.tracking_base_url ?? null,
  trackingExcludedDomains: r.tracking_excluded_domains ?? [],
  listUnsubscribe: r.list_unsubscribe ?? false,
  privacyMode: r.privacy_mode ?? false,
  allowedSenders: r.allowed_senders ?? [],
  postmasterAddress: r.postmaster_address ?? null,
  outboundSpamThreshold: r.outbound_spam_threshold ?? null,
  spamThreshold: r.spam_threshold ?? null,
  spamFailThreshold: r.spam_fail_threshold ?? null,
  createdAt: iso(r.created_at)!,
});

export const toCredential = (r: any): Credential => ({
  id: r.id,
  serverId: r.server_id,
  kind: r.kind,
  name: r.name,
  identifier: r.identifier,
  createdAt: iso(r.created_at)!,
  lastUsedAt: iso(r.last_used_at),
  revoked: r.revoked_at !== null,
});

export const toAdminToken = (r: any): AdminTokenInfo => ({
  id: r.id,
  organizationId: r.organization_id,
  name: r.name,
  tokenPrefix: r.token_prefix,
  createdAt: iso(r.created_at)!,
  revoked: r.revoked_at !== null,
});
