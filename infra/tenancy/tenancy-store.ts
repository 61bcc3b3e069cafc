import type pg from 'pg';
import type {
  Actor,
  AdminActor,
  AdminTokenInfo,
  CreateAdminToken,
  CreateCredential,
  CreateDomain,
  CreateServer,
  CreateTrackDomain,
  Credential,
  Domain,
  Organization,
  Result,
  SendingDomain,
  Server,
  TenancyError,
  TrackDomain,
  TrackingKeys,
  UpdateServer,
} from '../../domain/index.js';
import { systemActor } from '../../domain/index.js';
import { AdminTokens } from './admin-tokens.js';
import { AuditLog } from './audit-log.js';
import type { SecretBox } from '../secrets/index.js';
import { Authentication, type ChallengeLogin, type SesAccessKey } from './authentication.js';
import { Credentials, type ImportedCredential } from './credentials.js';
import { Domains, type DnsSettings, type ImportedDomain } from './domains.js';
import { Organizations } from './organizations.js';
import { SendingDomainLookup } from './sending-domains.js';
import { Servers } from './servers.js';
import { TrackDomains } from './track-domains.js';
import { TrackingKeyLookup } from './tracking-keys.js';

/**
 * Organizations, servers, domains, credentials and admin tokens in PostgreSQL, one module per
 * aggregate; this facade only delegates, so callers keep one dependency. Every change writes a
 * config_audit row in the same transaction (audit-log.ts); who may do what is
 * domain/tenancy/authorization.ts: an actor scoped to an organization sees nothing of another, and
 * asking for it is answered NOT_FOUND, so ids of other tenants cannot be probed.
 */
export class TenancyStore {
  private readonly organizations: Organizations;
  private readonly servers: Servers;
  private readonly domains: Domains;
  private readonly trackDomains: TrackDomains;
  private readonly credentials: Credentials;
  private readonly adminTokens: AdminTokens;
  private readonly authentication: Authentication;
  private readonly sendingDomains: SendingDomainLookup;
  private readonly trackingKeyLookup: TrackingKeyLookup;
  private readonly audit: AuditLog;

  /**
   * `secrets` seals what must be read back (infra/secrets): SMTP passwords for CRAM-MD5, SES secret
   * keys, DKIM private keys, tracking keys.
   */
  constructor(pool: pg.Pool, dns: DnsSettings, secrets: SecretBox) {
    this.organizations = new Organizations(pool);
    this.servers = new Servers(pool, this.organizations, secrets);
    this.domains = new Domains(pool, this.servers, dns, secrets);
    this.trackDomains = new TrackDomains(pool, this.servers, this.domains, dns.trackTarget);
    this.credentials = new Credentials(pool, this.servers, secrets);
    this.adminTokens = new AdminTokens(pool, this.organizations);
    this.authentication = new Authentication(pool, secrets);
    this.sendingDomains = new SendingDomainLookup(pool, secrets);
    this.trackingKeyLookup = new TrackingKeyLookup(pool, secrets);
    this.audit = new AuditLog(pool);
  }

  /** Forget cached sending domains and tracking keys (after a change made in this process). */
  forgetCaches(): void {
    this.sendingDomains.forget();
    this.trackingKeyLookup.forget();
  }

  createOrganization(actor: Actor, input: { name: string }): Promise<Result<Organization, TenancyError>> {
    return this.organizations.create(actor, input);
  }
  listOrganizations(actor: Actor): Promise<Organization[]> {
    return this.organizations.list(actor);
  }
  getOrganization(actor: Actor, id: string): Promise<Result<Organization, TenancyError>> {
    return this.organizations.get(actor, id);
  }
  updateOrganization(
    actor: Actor,
    id: string,
    input: { name?: string | undefined },
  ): Promise<Result<Organization, TenancyError>> {
    return this.organizations.update(actor, id, input);
  }
  deleteOrganization(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return this.organizations.delete(actor, id);
  }

  createServer(actor: Actor, organizationId: string, input: CreateServer): Promise<Result<Server, TenancyError>> {
    return this.servers.create(actor, organizationId, input);
  }
  listServers(actor: Actor, organizationId: string): Promise<Result<Server[], TenancyError>> {
    return this.servers.list(actor, organizationId);
  }
  getServer(actor: Actor, id: string): Promise<Result<Server, TenancyError>> {
    return this.servers.get(actor, id);
  }
  updateServer(actor: Actor, id: string, input: UpdateServer): Promise<Result<Server, TenancyError>> {
    return this.servers.update(actor, id, input);
  }
  deleteServer(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return this.servers.delete(actor, id);
  }

  createDomain(actor: Actor, serverId: string, input: CreateDomain): Promise<Result<Domain, TenancyError>> {
    return this.domains.create(actor, serverId, input);
  }
  /** A domain from Postal, with its DKIM key and selector and its verification (postal-import). */
  importDomain(actor: Actor, serverId: string, input: ImportedDomain): Promise<Result<Domain, TenancyError>> {
    return this.domains.import(actor, serverId, input);
  }
  listDomains(actor: Actor, serverId: string): Promise<Result<Domain[], TenancyError>> {
    return this.domains.list(actor, serverId);
  }
  getDomain(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    return this.domains.get(actor, id);
  }
  deleteDomain(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return this.domains.delete(actor, id);
  }
  markDomainVerified(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    return this.domains.markVerified(actor, id);
  }
  rotateDkim(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    return this.domains.rotateDkim(actor, id);
  }
  /** Verified domains due for their periodic DNS check (the system's own work: no actor). */
  domainsDueForDnsCheck(checkedBefore: Date, limit: number): Promise<Domain[]> {
    return this.domains.dueForDnsCheck(checkedBefore, limit);
  }
  recordDomainDnsCheck(id: string, check: NonNullable<Domain['dnsCheck']>): Promise<void> {
    return this.domains.recordDnsCheck(id, check);
  }
  /** Verified domains and the servers of IP pools: what blocklist monitoring checks. */
  sendingTargets(): ReturnType<Domains['sendingTargets']> {
    return this.domains.sendingTargets();
  }
  /** The server Postlog's own mail is sent through, for a From domain (none unless it is verified). */
  async serverSendingFrom(domainName: string): Promise<Server | undefined> {
    const id = await this.domains.serverIdSendingFrom(domainName);
    if (!id) return undefined;
    const server = await this.servers.get(systemActor('postlog'), id);
    return server.ok ? server.value : undefined;
  }
  createTrackDomain(
    actor: Actor,
    domainId: string,
    input: CreateTrackDomain,
  ): Promise<Result<TrackDomain, TenancyError>> {
    return this.trackDomains.create(actor, domainId, input);
  }
  listTrackDomains(actor: Actor, domainId: string): Promise<Result<TrackDomain[], TenancyError>> {
    return this.trackDomains.list(actor, domainId);
  }
  getTrackDomain(actor: Actor, domainId: string, id: string): Promise<Result<TrackDomain, TenancyError>> {
    return this.trackDomains.get(actor, domainId, id);
  }
  deleteTrackDomain(actor: Actor, domainId: string, id: string): Promise<Result<void, TenancyError>> {
    return this.trackDomains.delete(actor, domainId, id);
  }
  /** Records a DNS check of a track domain: found, it is used for links; missing, no longer. */
  recordTrackDomainCheck(
    actor: Actor,
    domainId: string,
    id: string,
    found: boolean,
  ): Promise<Result<TrackDomain, TenancyError>> {
    return this.trackDomains.recordCheck(actor, domainId, id, found);
  }
  sendingDomain(serverId: string, name: string): Promise<SendingDomain | undefined> {
    return this.sendingDomains.find(serverId, name);
  }

  createCredential(
    actor: Actor,
    serverId: string,
    input: CreateCredential,
  ): Promise<Result<{ credential: Credential; secret: string }, TenancyError>> {
    return this.credentials.create(actor, serverId, input);
  }
  /** A credential with the secret it had in Postal (postal-import); `created` false: it was there. */
  importCredential(
    actor: Actor,
    serverId: string,
    input: ImportedCredential,
  ): Promise<Result<{ credential: Credential; created: boolean }, TenancyError>> {
    return this.credentials.import(actor, serverId, input);
  }
  listCredentials(actor: Actor, serverId: string): Promise<Result<Credential[], TenancyError>> {
    return this.credentials.list(actor, serverId);
  }
  revokeCredential(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return this.credentials.revoke(actor, id);
  }

  createAdminToken(
    actor: Actor,
    input: CreateAdminToken,
  ): Promise<Result<{ token: AdminTokenInfo; secret: string }, TenancyError>> {
    return this.adminTokens.create(actor, input);
  }
  listAdminTokens(actor: Actor): Promise<AdminTokenInfo[]> {
    return this.adminTokens.list(actor);
  }
  revokeAdminToken(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return this.adminTokens.revoke(actor, id);
  }

  authenticateApiKey(key: string): Promise<Server | undefined> {
    return this.authentication.apiKey(key);
  }
  authenticateSmtp(username: string, password: string): Promise<Server | undefined> {
    return this.authentication.smtp(username, password);
  }
  /** CRAM-MD5: `validate` says whether the client's response was made with the login's secret. */
  authenticateSmtpChallenge(username: string, validate: (secret: string) => boolean): Promise<ChallengeLogin> {
    return this.authentication.smtpChallenge(username, validate);
  }
  /** The server an SMTP client at this address may submit for without AUTH (SMTP-IP credentials). */
  authenticateSmtpAddress(clientAddress: string): Promise<Server | undefined> {
    return this.authentication.smtpAddress(clientAddress);
  }
  /** An SES access key's server and secret (the caller checks the request's SigV4 signature with it). */
  authenticateSesAccessKey(accessKeyId: string): Promise<SesAccessKey> {
    return this.authentication.sesAccessKey(accessKeyId);
  }
  authenticateAdmin(token: string): Promise<AdminActor | undefined> {
    return this.authentication.adminToken(token);
  }

  trackingKeys(serverId: string): Promise<TrackingKeys | undefined> {
    return this.trackingKeyLookup.find(serverId);
  }

  auditLog(actor: Actor, options: { limit: number; before?: number | undefined }): Promise<unknown[]> {
    return this.audit.list(actor, options);
  }
}
