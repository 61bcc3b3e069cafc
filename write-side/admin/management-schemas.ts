import { z } from 'zod';
import { AdminTokenInfo, Credential, Domain, Organization, Server, TrackDomain } from '../../domain/index.js';

/**
 * What the management API answers, for its OpenAPI document: tenancy's types, whose schemas are
 * domain/tenancy's. The serializer sends what the document says: a field a schema lacks is not sent.
 */
const iso = z.string().describe('ISO 8601 time');

export const OrganizationSchema = Organization;
export const ServerSchema = Server;
export const DomainSchema = Domain;
export const CredentialSchema = Credential;
export const AdminTokenSchema = AdminTokenInfo;
export const TrackDomainSchema = TrackDomain;

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

/** A DNS check of one record: what was asked for, what the resolver found. */
const RecordCheckSchema = z.object({
  purpose: z.string(),
  name: z.string(),
  expected: z.string(),
  found: z.array(z.string()),
  ok: z.boolean(),
});

export const TrackDomainCheckSchema = z.object({
  verified: z.boolean(),
  check: RecordCheckSchema,
  trackDomain: TrackDomainSchema,
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
