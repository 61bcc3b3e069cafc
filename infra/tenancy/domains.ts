import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  authorize,
  dnsRecordsFor,
  err,
  notFound,
  ok,
  parseDomainName,
  type Actor,
  type CreateDomain,
  type DkimKey,
  type Domain,
  type Result,
  type Server,
  type TenancyError,
} from '../../domain/index.js';
import { inResultTransaction } from '../postgres/transaction.js';
import type { SecretBox } from '../secrets/index.js';
import { recordChange } from './audit-log.js';
import { dkimKeyContext } from './sealed-secrets.js';
import { dkimKeyFromPem, generateDkimKey, type DkimKeyPair } from './dkim-keys.js';
import { iso } from './row-mappers.js';
import { newVerificationToken } from './secrets.js';
import type { Servers } from './servers.js';

/** Where the DNS records of a domain point: our SPF include and the return-path target. */
export interface DnsSettings {
  spfInclude: string;
  returnPathTarget: string;
  /** Where each track domain's CNAME points: Postlog's tracking host. */
  trackTarget: string;
}

// Postal's too (psrp.<domain>): an imported domain's return-path record stays valid
const RETURN_PATH_SUBDOMAIN = 'psrp';

/** A domain from another system (Postal): verification as it was, and its DKIM key when it had one. */
export interface ImportedDomain {
  name: string;
  verifiedAt: Date | null;
  verificationToken: string | null;
  dkim: { selector: string; privateKeyPem: string } | null;
}

/**
 * Sending domains of a server with their DKIM keys and the DNS records to publish. A domain is
 * visible to whoever may see its server.
 */
export class Domains {
  /** `secrets` seals the DKIM private keys. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly servers: Servers,
    private readonly dns: DnsSettings,
    private readonly secrets: SecretBox,
  ) {}

  /**
   * The server that sends from a verified domain (the oldest such domain, when several servers
   * have it): where Postlog's own mail (password resets, invitations) is sent from.
   */
  async serverIdSendingFrom(name: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ server_id: string }>(
      `SELECT server_id FROM domains WHERE name = lower($1) AND verified_at IS NOT NULL ORDER BY created_at LIMIT 1`,
      [name],
    );
    return rows[0]?.server_id;
  }

  async create(actor: Actor, serverId: string, input: CreateDomain): Promise<Result<Domain, TenancyError>> {
    const server = await this.servers.get(actor, serverId);
    if (!server.ok) return server;
    const allowed = authorize(actor, {
      do: 'add-domain',
      organizationId: server.value.organizationId,
      verified: input.verified,
    });
    if (!allowed.ok) return allowed;
    const name = parseDomainName(input.name);
    if (!name.ok) return err({ code: 'INVALID', message: name.error, field: 'name' });
    const keys = [await generateDkimKey('rsa-2048')];
    if (input.ed25519) keys.push(await generateDkimKey('ed25519', keys[0]!.selector));
    const id = randomUUID();
    return inResultTransaction(this.pool, async (c) => {
      const exists = await c.query('SELECT 1 FROM domains WHERE server_id = $1 AND name = $2', [serverId, name.value]);
      if (exists.rows[0]) return err({ code: 'CONFLICT', message: `${name.value} is already a domain of this server` });
      await c.query(
        `INSERT INTO domains (id, server_id, name, verification_token, verified_at, return_path_subdomain)
         VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END, $6)`,
        [id, serverId, name.value, newVerificationToken(), input.verified, RETURN_PATH_SUBDOMAIN],
      );
      await insertKeys(c, this.secrets, id, keys);
      const domain = (await this.load(c, id))!;
      await recordChange(c, actor, {
        action: 'create',
        entityType: 'domain',
        entityId: id,
        scope: { organizationId: server.value.organizationId, serverId },
        before: null,
        after: withoutRecords(domain),
      });
      return ok(domain);
    });
  }

  /**
   * A domain as another system had it (Postal): its DKIM key and selector, so the published record
   * stays valid, and its verification (when and with which token). No DKIM key: a new one, whose
   * record the owner publishes. A server that has the name already is a CONFLICT.
   */
  async import(actor: Actor, serverId: string, input: ImportedDomain): Promise<Result<Domain, TenancyError>> {
    const server = await this.servers.get(actor, serverId);
    if (!server.ok) return server;
    const allowed = authorize(actor, {
      do: 'add-domain',
      organizationId: server.value.organizationId,
      verified: input.verifiedAt !== null,
    });
    if (!allowed.ok) return allowed;
    const name = parseDomainName(input.name);
    if (!name.ok) return err({ code: 'INVALID', message: name.error, field: 'name' });
    let key: DkimKeyPair;
    try {
      key = input.dkim
        ? dkimKeyFromPem(input.dkim.privateKeyPem, input.dkim.selector)
        : await generateDkimKey('rsa-2048');
    } catch (e) {
      return err({ code: 'INVALID', message: `DKIM key of ${name.value}: ${(e as Error).message}`, field: 'dkim' });
    }
    const id = randomUUID();
    return inResultTransaction(this.pool, async (c) => {
      const exists = await c.query('SELECT 1 FROM domains WHERE server_id = $1 AND name = $2', [serverId, name.value]);
      if (exists.rows[0]) return err({ code: 'CONFLICT', message: `${name.value} is already a domain of this server` });
      await c.query(
        `INSERT INTO domains (id, server_id, name, verification_token, verified_at, return_path_subdomain)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          id,
          serverId,
          name.value,
          input.verificationToken || newVerificationToken(),
          input.verifiedAt,
          RETURN_PATH_SUBDOMAIN,
        ],
      );
      await insertKeys(c, this.secrets, id, [key]);
      const domain = (await this.load(c, id))!;
      await recordChange(c, actor, {
        action: 'import',
        entityType: 'domain',
        entityId: id,
        scope: { organizationId: server.value.organizationId, serverId },
        before: null,
        after: withoutRecords(domain),
      });
      return ok(domain);
    });
  }

  async list(actor: Actor, serverId: string): Promise<Result<Domain[], TenancyError>> {
    const server = await this.servers.get(actor, serverId);
    if (!server.ok) return server;
    const { rows } = await this.pool.query('SELECT id FROM domains WHERE server_id = $1 ORDER BY name', [serverId]);
    const client = await this.pool.connect();
    try {
      const domains = [];
      for (const r of rows) domains.push((await this.load(client, r.id))!);
      return ok(domains);
    } finally {
      client.release();
    }
  }

  async get(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    const client = await this.pool.connect();
    try {
      const domain = await this.load(client, id);
      if (!domain || !(await this.servers.get(actor, domain.serverId)).ok) return err(notFound('domain'));
      return ok(domain);
    } finally {
      client.release();
    }
  }

  async delete(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    const domain = await this.manageable(actor, id);
    if (!domain.ok) return domain;
    const server = (await this.servers.get(actor, domain.value.serverId)) as { ok: true; value: Server };
    return inResultTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM dkim_keys WHERE domain_id = $1', [id]);
      await c.query('DELETE FROM domains WHERE id = $1', [id]);
      await recordChange(c, actor, {
        action: 'delete',
        entityType: 'domain',
        entityId: id,
        scope: { organizationId: server.value.organizationId, serverId: server.value.id },
        before: withoutRecords(domain.value),
        after: null,
      });
      return ok(undefined);
    });
  }

  async markVerified(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    const domain = await this.manageable(actor, id);
    if (!domain.ok) return domain;
    return inResultTransaction(this.pool, async (c) => {
      await c.query('UPDATE domains SET verified_at = coalesce(verified_at, now()) WHERE id = $1', [id]);
      const after = (await this.load(c, id))!;
      await recordDomainChange(c, actor, 'verify', domain.value, after);
      return ok(after);
    });
  }

  /**
   * DKIM key rotation: a new key (new selector) signs from now on; the previous keys are retired
   * but stay in the DNS record list, so mail in flight still verifies until they are unpublished.
   */
  async rotateDkim(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    const domain = await this.manageable(actor, id);
    if (!domain.ok) return domain;
    const hadEd25519 = domain.value.dkimKeys.some((k) => k.active && k.algorithm === 'ed25519');
    const keys = [await generateDkimKey('rsa-2048')];
    if (hadEd25519) keys.push(await generateDkimKey('ed25519', keys[0]!.selector));
    return inResultTransaction(this.pool, async (c) => {
      await c.query('UPDATE dkim_keys SET active = false, retired_at = now() WHERE domain_id = $1 AND active', [id]);
      await insertKeys(c, this.secrets, id, keys);
      const after = (await this.load(c, id))!;
      await recordDomainChange(c, actor, 'rotate-dkim', domain.value, after);
      return ok(after);
    });
  }

  /** A domain the actor may change: it sees it and is an admin of its organization. */
  private async manageable(actor: Actor, id: string): Promise<Result<Domain, TenancyError>> {
    const domain = await this.get(actor, id);
    if (!domain.ok) return domain;
    const server = await this.servers.get(actor, domain.value.serverId);
    if (!server.ok) return server;
    const allowed = authorize(actor, { do: 'manage', organizationId: server.value.organizationId, what: 'domain' });
    return allowed.ok ? domain : allowed;
  }

  private async load(c: pg.ClientBase, id: string): Promise<Domain | undefined> {
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
      dnsCheck: d.dns_checked_at
        ? { status: d.dns_status, checkedAt: iso(d.dns_checked_at)!, health: d.dns_health }
        : null,
      createdAt: iso(d.created_at)!,
    };
  }

  /**
   * Verified domains whose last DNS check is older than `checkedBefore` (or that never had one),
   * least recently checked first: what a run of the periodic check takes on.
   */
  async dueForDnsCheck(checkedBefore: Date, limit: number): Promise<Domain[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT id FROM domains WHERE verified_at IS NOT NULL AND (dns_checked_at IS NULL OR dns_checked_at < $1)
       ORDER BY dns_checked_at NULLS FIRST, id LIMIT $2`,
      [checkedBefore, limit],
    );
    const client = await this.pool.connect();
    try {
      const domains: Domain[] = [];
      for (const r of rows) {
        const d = await this.load(client, r.id);
        if (d) domains.push(d);
      }
      return domains;
    } finally {
      client.release();
    }
  }

  /**
   * What blocklist monitoring checks: every verified domain with the servers that send from it, and
   * the servers that send through an IP pool (the system's own work: no actor).
   */
  async sendingTargets(): Promise<{
    domains: { name: string; serverIds: string[] }[];
    pools: { serverId: string; ipPool: string }[];
  }> {
    const [domains, pools] = await Promise.all([
      this.pool.query<{ name: string; server_ids: string[] }>(
        `SELECT name, array_agg(server_id::text ORDER BY server_id) AS server_ids FROM domains
          WHERE verified_at IS NOT NULL GROUP BY name ORDER BY name`,
      ),
      this.pool.query<{ id: string; ip_pool: string }>(
        'SELECT id::text, ip_pool FROM servers WHERE ip_pool IS NOT NULL ORDER BY id',
      ),
    ]);
    return {
      domains: domains.rows.map((r) => ({ name: r.name, serverIds: r.server_ids })),
      pools: pools.rows.map((r) => ({ serverId: r.id, ipPool: r.ip_pool })),
    };
  }

  /** Keeps a check's result (not a configuration change: no audit entry; its status changes are events). */
  async recordDnsCheck(id: string, check: NonNullable<Domain['dnsCheck']>): Promise<void> {
    await this.pool.query('UPDATE domains SET dns_checked_at = $2, dns_status = $3, dns_health = $4 WHERE id = $1', [
      id,
      check.checkedAt,
      check.status,
      JSON.stringify(check.health),
    ]);
  }
}

async function insertKeys(c: pg.ClientBase, box: SecretBox, domainId: string, keys: DkimKeyPair[]): Promise<void> {
  for (const k of keys) {
    const id = randomUUID();
    await c.query(
      `INSERT INTO dkim_keys (id, domain_id, selector, algorithm, private_key_sealed, public_key_b64)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, domainId, k.selector, k.algorithm, box.seal(k.privateKeyPem, dkimKeyContext(id)), k.publicKeyB64],
    );
  }
}

/** A change of a domain that exists before and after (verified, keys rotated), in its server's scope. */
async function recordDomainChange(
  c: pg.ClientBase,
  actor: Actor,
  action: string,
  before: Domain,
  after: Domain,
): Promise<void> {
  const server = (await c.query('SELECT organization_id FROM servers WHERE id = $1', [after.serverId])).rows[0];
  await recordChange(c, actor, {
    action,
    entityType: 'domain',
    entityId: after.id,
    scope: { organizationId: server.organization_id, serverId: after.serverId },
    before: withoutRecords(before),
    after: withoutRecords(after),
  });
}

/** The audit log keeps what changed, not derived DNS text. */
const withoutRecords = ({ dnsRecords: _r, ...rest }: Domain) => rest;
