import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  authorize,
  err,
  notFound,
  ok,
  type Actor,
  type CreateTrackDomain,
  type Domain,
  type Result,
  type TenancyError,
  type TrackDomain,
} from '../../domain/index.js';
import { inResultTransaction } from '../postgres/transaction.js';
import { recordChange } from './audit-log.js';
import type { Domains } from './domains.js';
import { iso } from './row-mappers.js';
import type { Servers } from './servers.js';

/**
 * The track domain of a sending domain (at most one, as in Postal): a host name under the domain
 * whose CNAME points at Postlog's tracking host (`trackTarget`). Visible to whoever sees the
 * domain; changed by an admin of its organization, as the domain is.
 */
export class TrackDomains {
  constructor(
    private readonly pool: pg.Pool,
    private readonly servers: Servers,
    private readonly domains: Domains,
    private readonly trackTarget: string,
  ) {}

  async create(actor: Actor, domainId: string, input: CreateTrackDomain): Promise<Result<TrackDomain, TenancyError>> {
    const domain = await this.manageableDomain(actor, domainId);
    if (!domain.ok) return domain;
    const name = `${input.name}.${domain.value.name}`;
    if (name.length > 253)
      return err({ code: 'INVALID', message: `${name} is longer than 253 characters`, field: 'name' });
    const id = randomUUID();
    return inResultTransaction(this.pool, async (c) => {
      const exists = await c.query('SELECT name FROM track_domains WHERE domain_id = $1', [domainId]);
      if (exists.rows[0])
        return err({ code: 'CONFLICT', message: `${domain.value.name} has a track domain (${exists.rows[0].name})` });
      await c.query('INSERT INTO track_domains (id, domain_id, name, https) VALUES ($1, $2, $3, $4)', [
        id,
        domainId,
        name,
        input.https,
      ]);
      const created = (await this.load(c, { id }))[0]!;
      await this.audit(c, actor, 'create', domain.value, null, created);
      return ok(created);
    });
  }

  async list(actor: Actor, domainId: string): Promise<Result<TrackDomain[], TenancyError>> {
    const domain = await this.domains.get(actor, domainId);
    if (!domain.ok) return domain;
    return ok(await this.load(this.pool, { domainId }));
  }

  /** A track domain of the given domain, as the actor may see it. */
  async get(actor: Actor, domainId: string, id: string): Promise<Result<TrackDomain, TenancyError>> {
    const domain = await this.domains.get(actor, domainId);
    if (!domain.ok) return domain;
    const found = (await this.load(this.pool, { id })).find((t) => t.domainId === domainId);
    return found ? ok(found) : err(notFound('track domain'));
  }

  async delete(actor: Actor, domainId: string, id: string): Promise<Result<void, TenancyError>> {
    const domain = await this.manageableDomain(actor, domainId);
    if (!domain.ok) return domain;
    return inResultTransaction(this.pool, async (c) => {
      const before = (await this.load(c, { id })).find((t) => t.domainId === domainId);
      if (!before) return err(notFound('track domain'));
      await c.query('DELETE FROM track_domains WHERE id = $1', [id]);
      await this.audit(c, actor, 'delete', domain.value, before, null);
      return ok(undefined);
    });
  }

  /** The outcome of a DNS check: verified while the CNAME is in place, no longer once it is gone. */
  async recordCheck(
    actor: Actor,
    domainId: string,
    id: string,
    found: boolean,
  ): Promise<Result<TrackDomain, TenancyError>> {
    const domain = await this.manageableDomain(actor, domainId);
    if (!domain.ok) return domain;
    return inResultTransaction(this.pool, async (c) => {
      const before = (await this.load(c, { id })).find((t) => t.domainId === domainId);
      if (!before) return err(notFound('track domain'));
      await c.query(
        `UPDATE track_domains
            SET dns_checked_at = now(),
                verified_at = CASE WHEN $2 THEN coalesce(verified_at, now()) END
          WHERE id = $1`,
        [id, found],
      );
      const after = (await this.load(c, { id }))[0]!;
      if (before.verified !== after.verified) await this.audit(c, actor, 'check-dns', domain.value, before, after);
      return ok(after);
    });
  }

  /** A domain the actor may change: it sees it and is an admin of its organization. */
  private async manageableDomain(actor: Actor, domainId: string): Promise<Result<Domain, TenancyError>> {
    const domain = await this.domains.get(actor, domainId);
    if (!domain.ok) return domain;
    const server = await this.servers.get(actor, domain.value.serverId);
    if (!server.ok) return server;
    const allowed = authorize(actor, { do: 'manage', organizationId: server.value.organizationId, what: 'domain' });
    return allowed.ok ? domain : allowed;
  }

  private async load(c: pg.ClientBase | pg.Pool, by: { id: string } | { domainId: string }): Promise<TrackDomain[]> {
    const { rows } = await c.query(
      `SELECT t.*, d.server_id FROM track_domains t JOIN domains d ON d.id = t.domain_id
        WHERE ${'id' in by ? 't.id' : 't.domain_id'} = $1 ORDER BY t.name`,
      ['id' in by ? by.id : by.domainId],
    );
    return rows.map((r) => ({
      id: r.id,
      domainId: r.domain_id,
      serverId: r.server_id,
      name: r.name,
      https: r.https,
      verified: r.verified_at !== null,
      verifiedAt: iso(r.verified_at),
      dnsCheckedAt: iso(r.dns_checked_at),
      baseUrl: `${r.https ? 'https' : 'http'}://${r.name}`,
      dnsRecord: { type: 'CNAME' as const, name: r.name, value: this.trackTarget },
      createdAt: iso(r.created_at)!,
    }));
  }

  private async audit(
    c: pg.ClientBase,
    actor: Actor,
    action: string,
    domain: Domain,
    before: TrackDomain | null,
    after: TrackDomain | null,
  ): Promise<void> {
    const server = (await c.query('SELECT organization_id FROM servers WHERE id = $1', [domain.serverId])).rows[0];
    await recordChange(c, actor, {
      action,
      entityType: 'track-domain',
      entityId: (after ?? before)!.id,
      scope: { organizationId: server.organization_id, serverId: domain.serverId },
      before,
      after,
    });
  }
}
