// biome-ignore-all lint/suspicious/noExplicitAny: the row mappers take pg rows, which are untyped; each mapper is where a row gets its type
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  dnsRecordsFor,
  err,
  ok,
  parseDomainName,
  type CreateAdminToken,
  type CreateCredential,
  type CreateDomain,
  type CreateServer,
  type DnsRecord,
  type Result,
  type UpdateServer,
} from '../../domain/index.js';
import { generateDkimKey } from './dkim-keys.js';
import { newAdminToken, newApiKey, newSmtpPassword, newSmtpUsername, newVerificationToken, sha256 } from './secrets.js';

/** Who acts: a label for the audit log and the organization the actor may see (null: all). */
export interface Actor {
  label: string;
  organizationId: string | null;
}

export const systemActor = (label: string): Actor => ({ label, organizationId: null });

export type TenancyError =
  | { code: 'NOT_FOUND'; message: string }
  | { code: 'CONFLICT'; message: string }
  | { code: 'FORBIDDEN'; message: string }
  | { code: 'INVALID'; message: string; field?: string };

export interface Organization {
  id: string;
  name: string;
  createdAt: string;
}

export interface Server {
  id: string;
  organizationId: string;
  name: string;
  mode: 'live' | 'development';
  sendLimitPerHour: number | null;
  retentionDays: number;
  suspended: boolean;
  suspendedReason: string | null;
  ipPool: string | null;
  trackOpens: boolean;
  trackClicks: boolean;
  trackingBaseUrl: string | null;
  trackingExcludedDomains: string[];
  listUnsubscribe: boolean;
  createdAt: string;
}

/** The tracking keys of a server: kept out of Server so they never reach an API answer. */
export interface TrackingKeys {
  current: string;
  previous: string | null;
}

export interface DkimKey {
  selector: string;
  algorithm: 'rsa-2048' | 'ed25519';
  publicKeyB64: string;
  active: boolean;
  createdAt: string;
  retiredAt: string | null;
}

export interface Domain {
  id: string;
  serverId: string;
  name: string;
  verified: boolean;
  verifiedAt: string | null;
  returnPathDomain: string;
  dkimKeys: DkimKey[];
  dnsRecords: DnsRecord[];
  createdAt: string;
}

/** What the send path needs of a sending domain: verification and the signing keys. */
export interface SendingDomain {
  id: string;
  name: string;
  verified: boolean;
  returnPathDomain: string;
  signingKeys: { selector: string; algorithm: 'rsa-2048' | 'ed25519'; privateKeyPem: string }[];
}

export interface Credential {
  id: string;
  serverId: string;
  kind: 'api' | 'smtp';
  name: string;
  /** api: the first characters of the key; smtp: the username. */
  identifier: string;
  createdAt: string;
  lastUsedAt: string | null;
  revoked: boolean;
}

export interface AdminTokenInfo {
  id: string;
  organizationId: string | null;
  name: string;
  tokenPrefix: string;
  createdAt: string;
  revoked: boolean;
}

export interface DnsSettings {
  spfInclude: string;
  returnPathTarget: string;
}

const RETURN_PATH_SUBDOMAIN = 'psrp';
/** How long a domain change may take to reach the send path of another process. */
const SENDING_DOMAIN_TTL_MS = 5000;
const iso = (d: Date | null) => (d ? d.toISOString() : null);
const notFound = (what: string): TenancyError => ({ code: 'NOT_FOUND', message: `${what} not found` });

/**
 * Organizations, servers, domains, credentials and admin tokens in PostgreSQL. Every change
 * writes a config_audit row (who, when, what: before and after) in the same transaction.
 * Visibility is enforced here: an actor scoped to an organization sees nothing of another, and
 * asking for it is answered NOT_FOUND, so ids of other tenants cannot be probed.
 */
export class TenancyStore {
  private readonly domainCache = new Map<string, { domain: SendingDomain | undefined; until: number }>();
  private readonly keyCache = new Map<string, { keys: TrackingKeys | undefined; until: number }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly dns: DnsSettings,
  ) {}

  /** Forget cached sending domains (after a change made in this process). */
  forgetCaches(): void {
    this.domainCache.clear();
    this.keyCache.clear();
  }

  // ---- organizations ---------------------------------------------------------------------

  async createOrganization(actor: Actor, input: { name: string }): Promise<Result<Organization, TenancyError>> {
    if (actor.organizationId !== null)
      return err({ code: 'FORBIDDEN', message: 'only a global admin can create organizations' });
    const id = randomUUID();
    return this.tx(async (c) => {
      const { rows } = await c.query('INSERT INTO organizations (id, name) VALUES ($1, $2) RETURNING *', [
        id,
        input.name,
      ]);
      const org = toOrganization(rows[0]);
      await audit(c, actor, 'create', 'organization', id, { organizationId: id }, null, org);
      return ok(org);
    });
  }

  async listOrganizations(actor: Actor): Promise<Organization[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM organizations WHERE $1::uuid IS NULL OR id = $1 ORDER BY created_at',
      [actor.organizationId],
    );
    return rows.map(toOrganization);
  }

  async getOrganization(actor: Actor, id: string): Promise<Result<Organization, TenancyError>> {
    if (!visible(actor, id)) return err(notFound('organization'));
    const { rows } = await this.pool.query('SELECT * FROM organizations WHERE id = $1', [id]);
    return rows[0] ? ok(toOrganization(rows[0])) : err(notFound('organization'));
  }

  async updateOrganization(
    actor: Actor,
    id: string,
    input: { name?: string | undefined },
  ): Promise<Result<Organization, TenancyError>> {
    if (!visible(actor, id)) return err(notFound('organization'));
    return this.tx(async (c) => {
      const before = await c.query('SELECT * FROM organizations WHERE id = $1 FOR UPDATE', [id]);
      if (!before.rows[0]) return err(notFound('organization'));
      const { rows } = await c.query(
        'UPDATE organizations SET name = coalesce($2, name), updated_at = now() WHERE id = $1 RETURNING *',
        [id, input.name ?? null],
      );
      const org = toOrganization(rows[0]);
      await audit(c, actor, 'update', 'organization', id, { organizationId: id }, toOrganization(before.rows[0]), org);
      return ok(org);
    });
  }

  async deleteOrganization(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    if (actor.organizationId !== null)
      return err({ code: 'FORBIDDEN', message: 'only a global admin can delete organizations' });
    return this.tx(async (c) => {
      const before = await c.query('SELECT * FROM organizations WHERE id = $1 FOR UPDATE', [id]);
      if (!before.rows[0]) return err(notFound('organization'));
      const servers = await c.query('SELECT count(*)::int AS n FROM servers WHERE organization_id = $1', [id]);
      if (servers.rows[0].n > 0)
        return err({ code: 'CONFLICT', message: 'the organization still has servers: delete them first' });
      await c.query('DELETE FROM admin_tokens WHERE organization_id = $1', [id]);
      await c.query('DELETE FROM organizations WHERE id = $1', [id]);
      await audit(c, actor, 'delete', 'organization', id, { organizationId: id }, toOrganization(before.rows[0]), null);
      return ok(undefined);
    });
  }

  // ---- servers ---------------------------------------------------------------------------

  async createServer(actor: Actor, organizationId: string, input: CreateServer): Promise<Result<Server, TenancyError>> {
    if (!visible(actor, organizationId)) return err(notFound('organization'));
    const id = randomUUID();
    return this.tx(async (c) => {
      const org = await c.query('SELECT 1 FROM organizations WHERE id = $1', [organizationId]);
      if (!org.rows[0]) return err(notFound('organization'));
      const { rows } = await c.query(
        `INSERT INTO servers (id, organization_id, name, mode, send_limit_per_hour, retention_days, ip_pool)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [id, organizationId, input.name, input.mode, input.sendLimitPerHour, input.retentionDays, input.ipPool],
      );
      const server = toServer(rows[0]);
      await audit(c, actor, 'create', 'server', id, { organizationId, serverId: id }, null, server);
      return ok(server);
    });
  }

  async listServers(actor: Actor, organizationId: string): Promise<Result<Server[], TenancyError>> {
    const org = await this.getOrganization(actor, organizationId);
    if (!org.ok) return org;
    const { rows } = await this.pool.query('SELECT * FROM servers WHERE organization_id = $1 ORDER BY created_at', [
      organizationId,
    ]);
    return ok(rows.map(toServer));
  }

  async getServer(actor: Actor, id: string): Promise<Result<Server, TenancyError>> {
    const { rows } = await this.pool.query('SELECT * FROM servers WHERE id = $1', [id]);
    if (!rows[0] || !visible(actor, rows[0].organization_id)) return err(notFound('server'));
    return ok(toServer(rows[0]));
  }

  async updateServer(actor: Actor, id: string, input: UpdateServer): Promise<Result<Server, TenancyError>> {
    return this.tx(async (c) => {
      const before = await c.query('SELECT * FROM servers WHERE id = $1 FOR UPDATE', [id]);
      if (!before.rows[0] || !visible(actor, before.rows[0].organization_id)) return err(notFound('server'));
      // suspension and send limits are the operator's levers over a tenant, not the tenant's
      if (
        actor.organizationId !== null &&
        (input.suspended !== undefined ||
          input.suspendedReason !== undefined ||
          input.sendLimitPerHour !== undefined ||
          input.ipPool !== undefined)
      ) {
        return err({
          code: 'FORBIDDEN',
          message: 'only a global admin can change suspension, send limits or IP pools',
        });
      }
      const set = (v: unknown) => (v === undefined ? null : v);
      const { rows } = await c.query(
        `UPDATE servers SET
           name = coalesce($2, name),
           mode = coalesce($3, mode),
           send_limit_per_hour = CASE WHEN $4::boolean THEN $5::integer ELSE send_limit_per_hour END,
           retention_days = coalesce($6, retention_days),
           suspended = coalesce($7, suspended),
           suspended_reason = CASE WHEN $8::boolean THEN $9::text WHEN $7 = false THEN NULL ELSE suspended_reason END,
           ip_pool = CASE WHEN $10::boolean THEN $11::text ELSE ip_pool END,
           track_opens = coalesce($12, track_opens),
           track_clicks = coalesce($13, track_clicks),
           tracking_base_url = CASE WHEN $14::boolean THEN $15::text ELSE tracking_base_url END,
           tracking_excluded_domains = coalesce($16::text[], tracking_excluded_domains),
           list_unsubscribe = coalesce($17, list_unsubscribe),
           tracking_secret_previous = CASE WHEN $18::boolean THEN tracking_secret ELSE tracking_secret_previous END,
           tracking_secret = CASE WHEN $18::boolean THEN replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') ELSE tracking_secret END,
           updated_at = now()
         WHERE id = $1 RETURNING *`,
        [
          id,
          set(input.name),
          set(input.mode),
          input.sendLimitPerHour !== undefined,
          set(input.sendLimitPerHour),
          set(input.retentionDays),
          set(input.suspended),
          input.suspendedReason !== undefined,
          set(input.suspendedReason),
          input.ipPool !== undefined,
          set(input.ipPool),
          set(input.trackOpens),
          set(input.trackClicks),
          input.trackingBaseUrl !== undefined,
          set(input.trackingBaseUrl),
          input.trackingExcludedDomains === undefined
            ? null
            : input.trackingExcludedDomains.map((d) => d.toLowerCase()),
          set(input.listUnsubscribe),
          input.rotateTrackingSecret === true,
        ],
      );
      const server = toServer(rows[0]);
      await audit(
        c,
        actor,
        'update',
        'server',
        id,
        { organizationId: server.organizationId, serverId: id },
        toServer(before.rows[0]),
        server,
      );
      return ok(server);
    });
  }

  /** Removes the server with its domains and credentials; its messages stay in the log. */
  async deleteServer(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return this.tx(async (c) => {
      const before = await c.query('SELECT * FROM servers WHERE id = $1 FOR UPDATE', [id]);
      if (!before.rows[0] || !visible(actor, before.rows[0].organization_id)) return err(notFound('server'));
      await c.query('DELETE FROM dkim_keys WHERE domain_id IN (SELECT id FROM domains WHERE server_id = $1)', [id]);
      await c.query('DELETE FROM domains WHERE server_id = $1', [id]);
      await c.query('DELETE FROM credentials WHERE server_id = $1', [id]);
      await c.query('DELETE FROM servers WHERE id = $1', [id]);
      const server = toServer(before.rows[0]);
      await audit(
        c,
        actor,
        'delete',
        'server',
        id,
        { organizationId: server.organizationId, serverId: id },
        server,
        null,
      );
      return ok(undefined);
    });
  }

  // ---- domains ---------------------------------------------------------------------------

  async createDomain(actor: Actor, serverId: string, input: CreateDomain): Promise<Result<Domain, TenancyError>> {
    const server = await this.getServer(actor, serverId);
    if (!server.ok) return server;
    // vouching for a domain skips the DNS proof: only an operator (global admin, CLI) may do that
    if (input.verified && actor.organizationId !== null)
      return err({
        code: 'FORBIDDEN',
        message: 'only a global admin can add a domain as verified; publish the verification record and call verify',
      });
    const name = parseDomainName(input.name);
    if (!name.ok) return err({ code: 'INVALID', message: name.error, field: 'name' });
    const keys = [await generateDkimKey('rsa-2048')];
    if (input.ed25519) keys.push(await generateDkimKey('ed25519', keys[0]!.selector));
    const id = randomUUID();
    return this.tx(async (c) => {
      const exists = await c.query('SELECT 1 FROM domains WHERE server_id = $1 AND name = $2', [serverId, name.value]);
      if (exists.rows[0]) return err({ code: 'CONFLICT', message: `${name.value} is already a domain of this server` });
      await c.query(
        `INSERT INTO domains (id, server_id, name, verification_token, verified_at, return_path_subdomain)
         VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END, $6)`,
        [id, serverId, name.value, newVerificationToken(), input.verified, RETURN_PATH_SUBDOMAIN],
      );
      for (const k of keys) {
        await c.query(
          'INSERT INTO dkim_keys (id, domain_id, selector, algorithm, private_key_pem, public_key_b64) VALUES ($1, $2, $3, $4, $5, $6)',
          [randomUUID(), id, k.selector, k.algorithm, k.privateKeyPem, k.publicKeyB64],
        );
      }
      const domain = (await this.loadDomain(c, id))!;
      await audit(
        c,
        actor,
        'create',
        'domain',
        id,
        { organizationId: server.value.organizationId, serverId },
        null,
        withoutRecords(domain),
      );
      return ok(domain);
    });
  }

  async listDomains(actor: Actor, serverId: string): Promise<Result<Domain[], TenancyError>> {
    const server = await this.getServer(actor, serverId);
    if (!server.ok) return server;
    const { rows } = await this.pool.query('SELECT id FROM domains WHERE server_id = $1 ORDER BY name', [serverId]);
    const client = await this.pool.connect();
    try {
      const domains = [];
      for (const r of rows) domains.push((await this.loadDomain(client, r.id))!);
      return ok(domains);
    } finally {
      client.release();
    }
  }

  async getDomain(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    const client = await this.pool.connect();
    try {
      const domain = await this.loadDomain(client, id);
      if (!domain || !(await this.getServer(actor, domain.serverId)).ok) return err(notFound('domain'));
      return ok(domain);
    } finally {
      client.release();
    }
  }

  async deleteDomain(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    const domain = await this.getDomain(actor, id);
    if (!domain.ok) return domain;
    const server = (await this.getServer(actor, domain.value.serverId)) as { ok: true; value: Server };
    return this.tx(async (c) => {
      await c.query('DELETE FROM dkim_keys WHERE domain_id = $1', [id]);
      await c.query('DELETE FROM domains WHERE id = $1', [id]);
      await audit(
        c,
        actor,
        'delete',
        'domain',
        id,
        { organizationId: server.value.organizationId, serverId: server.value.id },
        withoutRecords(domain.value),
        null,
      );
      return ok(undefined);
    });
  }

  async markDomainVerified(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    const domain = await this.getDomain(actor, id);
    if (!domain.ok) return domain;
    return this.tx(async (c) => {
      await c.query('UPDATE domains SET verified_at = coalesce(verified_at, now()) WHERE id = $1', [id]);
      const after = (await this.loadDomain(c, id))!;
      const server = (await c.query('SELECT organization_id FROM servers WHERE id = $1', [after.serverId])).rows[0];
      await audit(
        c,
        actor,
        'verify',
        'domain',
        id,
        { organizationId: server.organization_id, serverId: after.serverId },
        withoutRecords(domain.value),
        withoutRecords(after),
      );
      return ok(after);
    });
  }

  /**
   * DKIM key rotation: a new key (new selector) signs from now on; the previous keys are retired
   * but stay in the DNS record list, so mail in flight still verifies until they are unpublished.
   */
  async rotateDkim(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    const domain = await this.getDomain(actor, id);
    if (!domain.ok) return domain;
    const hadEd25519 = domain.value.dkimKeys.some((k) => k.active && k.algorithm === 'ed25519');
    const keys = [await generateDkimKey('rsa-2048')];
    if (hadEd25519) keys.push(await generateDkimKey('ed25519', keys[0]!.selector));
    return this.tx(async (c) => {
      await c.query('UPDATE dkim_keys SET active = false, retired_at = now() WHERE domain_id = $1 AND active', [id]);
      for (const k of keys) {
        await c.query(
          'INSERT INTO dkim_keys (id, domain_id, selector, algorithm, private_key_pem, public_key_b64) VALUES ($1, $2, $3, $4, $5, $6)',
          [randomUUID(), id, k.selector, k.algorithm, k.privateKeyPem, k.publicKeyB64],
        );
      }
      const after = (await this.loadDomain(c, id))!;
      const server = (await c.query('SELECT organization_id FROM servers WHERE id = $1', [after.serverId])).rows[0];
      await audit(
        c,
        actor,
        'rotate-dkim',
        'domain',
        id,
        { organizationId: server.organization_id, serverId: after.serverId },
        withoutRecords(domain.value),
        withoutRecords(after),
      );
      return ok(after);
    });
  }

  /**
   * The send path's view of a domain of a server (no actor: the API key already chose the server).
   * Cached for a few seconds: every message asks, and domains change rarely.
   */
  async sendingDomain(serverId: string, name: string): Promise<SendingDomain | undefined> {
    const key = `${serverId}:${name.toLowerCase()}`;
    const hit = this.domainCache.get(key);
    if (hit && hit.until > Date.now()) return hit.domain;
    const domain = await this.loadSendingDomain(serverId, name);
    if (this.domainCache.size > 10_000) this.domainCache.clear();
    this.domainCache.set(key, { domain, until: Date.now() + SENDING_DOMAIN_TTL_MS });
    return domain;
  }

  private async loadSendingDomain(serverId: string, name: string): Promise<SendingDomain | undefined> {
    const { rows } = await this.pool.query(
      `SELECT d.id, d.name, d.verified_at, d.return_path_subdomain,
              coalesce(json_agg(json_build_object('selector', k.selector, 'algorithm', k.algorithm, 'privateKeyPem', k.private_key_pem) ORDER BY k.algorithm DESC)
                FILTER (WHERE k.id IS NOT NULL), '[]') AS keys
         FROM domains d LEFT JOIN dkim_keys k ON k.domain_id = d.id AND k.active
        WHERE d.server_id = $1 AND d.name = $2
        GROUP BY d.id`,
      [serverId, name.toLowerCase()],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.id,
      name: r.name,
      verified: r.verified_at !== null,
      returnPathDomain: `${r.return_path_subdomain}.${r.name}`,
      signingKeys: r.keys,
    };
  }

  // ---- credentials -----------------------------------------------------------------------

  /** Creates an API key or SMTP login. The secret is returned once and only its hash is kept. */
  async createCredential(
    actor: Actor,
    serverId: string,
    input: CreateCredential,
  ): Promise<Result<{ credential: Credential; secret: string }, TenancyError>> {
    const server = await this.getServer(actor, serverId);
    if (!server.ok) return server;
    const secret = input.kind === 'api' ? newApiKey() : newSmtpPassword();
    const identifier = input.kind === 'api' ? secret.slice(0, 6) : newSmtpUsername();
    const id = randomUUID();
    return this.tx(async (c) => {
      const { rows } = await c.query(
        'INSERT INTO credentials (id, server_id, kind, name, identifier, secret_sha256) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
        [id, serverId, input.kind, input.name, identifier, sha256(secret)],
      );
      const credential = toCredential(rows[0]);
      await audit(
        c,
        actor,
        'create',
        'credential',
        id,
        { organizationId: server.value.organizationId, serverId },
        null,
        credential,
      );
      return ok({ credential, secret });
    });
  }

  async listCredentials(actor: Actor, serverId: string): Promise<Result<Credential[], TenancyError>> {
    const server = await this.getServer(actor, serverId);
    if (!server.ok) return server;
    const { rows } = await this.pool.query('SELECT * FROM credentials WHERE server_id = $1 ORDER BY created_at', [
      serverId,
    ]);
    return ok(rows.map(toCredential));
  }

  async revokeCredential(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return this.tx(async (c) => {
      const { rows } = await c.query(
        'SELECT c.*, s.organization_id FROM credentials c JOIN servers s ON s.id = c.server_id WHERE c.id = $1 FOR UPDATE OF c',
        [id],
      );
      if (!rows[0] || !visible(actor, rows[0].organization_id)) return err(notFound('credential'));
      await c.query('UPDATE credentials SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1', [id]);
      await audit(
        c,
        actor,
        'revoke',
        'credential',
        id,
        { organizationId: rows[0].organization_id, serverId: rows[0].server_id },
        toCredential(rows[0]),
        { ...toCredential(rows[0]), revoked: true },
      );
      return ok(undefined);
    });
  }

  // ---- admin tokens ----------------------------------------------------------------------

  async createAdminToken(
    actor: Actor,
    input: CreateAdminToken,
  ): Promise<Result<{ token: AdminTokenInfo; secret: string }, TenancyError>> {
    if (input.organizationId === null && actor.organizationId !== null)
      return err({ code: 'FORBIDDEN', message: 'only a global admin can create a global admin token' });
    if (input.organizationId !== null) {
      const org = await this.getOrganization(actor, input.organizationId);
      if (!org.ok) return org;
    }
    const secret = newAdminToken();
    const id = randomUUID();
    return this.tx(async (c) => {
      const { rows } = await c.query(
        'INSERT INTO admin_tokens (id, organization_id, name, token_prefix, token_sha256) VALUES ($1, $2, $3, $4, $5) RETURNING *',
        [id, input.organizationId, input.name, secret.slice(0, 10), sha256(secret)],
      );
      const token = toAdminToken(rows[0]);
      await audit(c, actor, 'create', 'admin-token', id, { organizationId: input.organizationId }, null, token);
      return ok({ token, secret });
    });
  }

  async listAdminTokens(actor: Actor): Promise<AdminTokenInfo[]> {
    const { rows } = await this.pool.query(
      'SELECT * FROM admin_tokens WHERE $1::uuid IS NULL OR organization_id = $1 ORDER BY created_at',
      [actor.organizationId],
    );
    return rows.map(toAdminToken);
  }

  async revokeAdminToken(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return this.tx(async (c) => {
      const { rows } = await c.query('SELECT * FROM admin_tokens WHERE id = $1 FOR UPDATE', [id]);
      if (!rows[0] || (actor.organizationId !== null && rows[0].organization_id !== actor.organizationId))
        return err(notFound('admin token'));
      await c.query('UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1', [id]);
      await audit(
        c,
        actor,
        'revoke',
        'admin-token',
        id,
        { organizationId: rows[0].organization_id },
        toAdminToken(rows[0]),
        { ...toAdminToken(rows[0]), revoked: true },
      );
      return ok(undefined);
    });
  }

  // ---- authentication --------------------------------------------------------------------

  async authenticateApiKey(key: string): Promise<Server | undefined> {
    return this.authenticateCredential('api', key);
  }

  async authenticateSmtp(username: string, password: string): Promise<Server | undefined> {
    return this.authenticateCredential('smtp', password, username);
  }

  private async authenticateCredential(
    kind: 'api' | 'smtp',
    secret: string,
    username?: string,
  ): Promise<Server | undefined> {
    const { rows } = await this.pool.query(
      `UPDATE credentials c SET last_used_at = now()
         FROM servers s
        WHERE c.server_id = s.id AND c.secret_sha256 = $1 AND c.kind = $2 AND c.revoked_at IS NULL
          AND ($3::text IS NULL OR c.identifier = $3)
       RETURNING s.*`,
      [sha256(secret), kind, username ?? null],
    );
    return rows[0] ? toServer(rows[0]) : undefined;
  }

  async authenticateAdmin(token: string): Promise<(Actor & { tokenId: string }) | undefined> {
    const { rows } = await this.pool.query(
      'SELECT id, organization_id FROM admin_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL',
      [sha256(token)],
    );
    const r = rows[0];
    return r ? { tokenId: r.id, label: `admin-token:${r.id}`, organizationId: r.organization_id } : undefined;
  }

  /** A server's tracking keys, cached briefly: every tracking hit needs them. */
  async trackingKeys(serverId: string): Promise<TrackingKeys | undefined> {
    const hit = this.keyCache.get(serverId);
    if (hit && hit.until > Date.now()) return hit.keys;
    const { rows } = await this.pool.query<{ tracking_secret: string; tracking_secret_previous: string | null }>(
      'SELECT tracking_secret, tracking_secret_previous FROM servers WHERE id = $1',
      [serverId],
    );
    const keys = rows[0] ? { current: rows[0].tracking_secret, previous: rows[0].tracking_secret_previous } : undefined;
    if (this.keyCache.size > 10_000) this.keyCache.clear();
    this.keyCache.set(serverId, { keys, until: Date.now() + SENDING_DOMAIN_TTL_MS });
    return keys;
  }

  // ---- audit -----------------------------------------------------------------------------

  async auditLog(actor: Actor, options: { limit: number; before?: number | undefined }): Promise<unknown[]> {
    const { rows } = await this.pool.query(
      `SELECT id, at, actor, action, entity_type, entity_id, organization_id, server_id, before, after FROM config_audit
        WHERE ($1::uuid IS NULL OR organization_id = $1) AND ($2::bigint IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3`,
      [actor.organizationId, options.before ?? null, options.limit],
    );
    return rows.map((r) => ({
      id: r.id,
      at: iso(r.at),
      actor: r.actor,
      action: r.action,
      entityType: r.entity_type,
      entityId: r.entity_id,
      organizationId: r.organization_id,
      serverId: r.server_id,
      before: r.before,
      after: r.after,
    }));
  }

  // ---- helpers ---------------------------------------------------------------------------

  private async loadDomain(c: pg.ClientBase, id: string): Promise<Domain | undefined> {
    const { rows } = await c.query('SELECT * FROM domains WHERE id = $1', [id]);
    const d = rows[0];
    if (!d) return undefined;
    const keys = await c.query('SELECT * FROM dkim_keys WHERE domain_id = $1 ORDER BY created_at, algorithm DESC', [
      id,
    ]);
    const dkimKeys: DkimKey[] = keys.rows.map((k) => ({
      selector: k.selector,
      algorithm: k.algorithm,
      publicKeyB64: k.public_key_b64,
      active: k.active,
      createdAt: iso(k.created_at)!,
      retiredAt: iso(k.retired_at),
    }));
    return {
      id: d.id,
      serverId: d.server_id,
      name: d.name,
      verified: d.verified_at !== null,
      verifiedAt: iso(d.verified_at),
      returnPathDomain: `${d.return_path_subdomain}.${d.name}`,
      dkimKeys,
      dnsRecords: dnsRecordsFor({
        domain: d.name,
        verificationToken: d.verification_token,
        returnPathSubdomain: d.return_path_subdomain,
        dkim: dkimKeys,
        spfInclude: this.dns.spfInclude,
        returnPathTarget: this.dns.returnPathTarget,
      }),
      createdAt: iso(d.created_at)!,
    };
  }

  private async tx<T>(work: (c: pg.PoolClient) => Promise<Result<T, TenancyError>>): Promise<Result<T, TenancyError>> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const result = await work(c);
      await c.query(result.ok ? 'COMMIT' : 'ROLLBACK');
      return result;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }
}

function visible(actor: Actor, organizationId: string): boolean {
  return actor.organizationId === null || actor.organizationId === organizationId;
}

async function audit(
  c: pg.ClientBase,
  actor: Actor,
  action: string,
  entityType: string,
  entityId: string,
  scope: { organizationId?: string | null; serverId?: string },
  before: unknown,
  after: unknown,
): Promise<void> {
  await c.query(
    `INSERT INTO config_audit (actor, action, entity_type, entity_id, organization_id, server_id, before, after)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      actor.label,
      action,
      entityType,
      entityId,
      scope.organizationId ?? null,
      scope.serverId ?? null,
      before === null ? null : JSON.stringify(before),
      after === null ? null : JSON.stringify(after),
    ],
  );
}

/** The audit log keeps what changed, not derived DNS text. */
const withoutRecords = ({ dnsRecords: _r, ...rest }: Domain) => rest;

const toOrganization = (r: any): Organization => ({ id: r.id, name: r.name, createdAt: iso(r.created_at)! });
const toServer = (r: any): Server => ({
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
  createdAt: iso(r.created_at)!,
});
const toCredential = (r: any): Credential => ({
  id: r.id,
  serverId: r.server_id,
  kind: r.kind,
  name: r.name,
  identifier: r.identifier,
  createdAt: iso(r.created_at)!,
  lastUsedAt: iso(r.last_used_at),
  revoked: r.revoked_at !== null,
});
const toAdminToken = (r: any): AdminTokenInfo => ({
  id: r.id,
  organizationId: r.organization_id,
  name: r.name,
  tokenPrefix: r.token_prefix,
  createdAt: iso(r.created_at)!,
  revoked: r.revoked_at !== null,
});
