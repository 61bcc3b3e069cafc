import { z } from 'zod';

/**
 * What the management API answers, for its OpenAPI document (infra/tenancy's types, as JSON).
 * Checked against those types where the routes send them: a field the store adds and this file
 * lacks is not sent (the serializer sends what the document says).
 */
const iso = z.string().describe('ISO 8601 time');

export const OrganizationSchema = z.object({ id: z.string(), name: z.string(), createdAt: iso });

export const ServerSchema = z.object({
  id: z.string(),
  organizationId: z.string(),
  name: z.string(),
  mode: z.enum(['live', 'development']),
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
  createdAt: iso,
});

const DnsRecordSchema = z.object({
  purpose: z.enum(['verification', 'spf', 'dkim', 'return-path', 'dmarc']),
  type: z.enum(['TXT', 'CNAME']),
  name: z.string(),
  value: z.string(),
  required: z.boolean(),
  note: z.string(),
});

export const DomainSchema = z.object({
  id: z.string(),
  serverId: z.string(),
  name: z.string(),
  verified: z.boolean(),
  verifiedAt: iso.nullable(),
  returnPathDomain: z.string(),
  dkimKeys: z.array(
    z.object({
      selector: z.string(),
      algorithm: z.enum(['rsa-2048', 'ed25519']),
      publicKeyB64: z.string(),
      active: z.boolean(),
      createdAt: iso,
      retiredAt: iso.nullable(),
    }),
  ),
  dnsRecords: z.array(DnsRecordSchema),
  createdAt: iso,
});

export const DomainCheckSchema = z.object({
  verified: z.boolean(),
  checks: z.array(
    z.object({
      purpose: z.string(),
      name: z.string(),
      expected: z.string(),
      found: z.array(z.string()),
      ok: z.boolean(),
    }),
  ),
  domain: DomainSchema,
});

export const CredentialSchema = z.object({
  id: z.string(),
  serverId: z.string(),
  kind: z.enum(['api', 'smtp']),
  name: z.string(),
  identifier: z.string().describe('api: the first characters of the key; smtp: the username'),
  createdAt: iso,
  lastUsedAt: iso.nullable(),
  revoked: z.boolean(),
});

export const AdminTokenSchema = z.object({
  id: z.string(),
  organizationId: z.string().nullable(),
  name: z.string(),
  tokenPrefix: z.string(),
  createdAt: iso,
  revoked: z.boolean(),
});

export const AuditEntrySchema = z
  .object({
    id: z.union([z.string(), z.number()]),
    at: iso.nullable(),
    actor: z.string(),
    action: z.string(),
    entityType: z.string(),
    entityId: z.string().nullable(),
  })
  .loose();
