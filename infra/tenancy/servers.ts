import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  authorize,
  err,
  notFound,
  ok,
  type Actor,
  type CreateServer,
  type Result,
  type Server,
  type TenancyError,
  type UpdateServer,
} from '../../domain/index.js';
import { inResultTransaction } from '../postgres/transaction.js';
import type { SecretBox } from '../secrets/index.js';
import { recordChange } from './audit-log.js';
import type { Organizations } from './organizations.js';
import { toServer } from './row-mappers.js';
import { trackingKeyContext } from './sealed-secrets.js';

/** Servers of an organization: each sends with its own credentials, domains, limits and tracking. */
export class Servers {
  /** `secrets` seals the servers' tracking keys. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly organizations: Organizations,
    private readonly secrets: SecretBox,
  ) {}

  /** A new tracking key (HMAC-SHA256 of tracking tokens, 256 bits), sealed for its server's row. */
  private newTrackingKey(serverId: string): string {
    return this.secrets.seal(randomBytes(32).toString('hex'), trackingKeyContext(serverId));
  }

  async create(actor: Actor, organizationId: string, input: CreateServer): Promise<Result<Server, TenancyError>> {
    const allowed = authorize(actor, { do: 'manage', organizationId, what: 'server' });
    if (!allowed.ok) return allowed;
    const id = randomUUID();
    return inResultTransaction(this.pool, async (c) => {
      const org = await c.query('SELECT 1 FROM organizations WHERE id = $1', [organizationId]);
      if (!org.rows[0]) return err(notFound('organization'));
      const { rows } = await c.query(
        `INSERT INTO servers (id, organization_id, name, mode, send_limit_per_hour, retention_days, ip_pool,
                              tracking_secret, tracking_secret_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8) RETURNING *`,
        [
          id,
          organizationId,
          input.name,
          input.mode,
          input.sendLimitPerHour,
          input.retentionDays,
          input.ipPool,
          this.newTrackingKey(id),
        ],
      );
      const server = toServer(rows[0]);
      await recordChange(c, actor, {
        action: 'create',
        entityType: 'server',
        entityId: id,
        scope: { organizationId, serverId: id },
        before: null,
        after: server,
      });
      return ok(server);
    });
  }

  async list(actor: Actor, organizationId: string): Promise<Result<Server[], TenancyError>> {
    const org = await this.organizations.get(actor, organizationId);
    if (!org.ok) return org;
    const { rows } = await this.pool.query('SELECT * FROM servers WHERE organization_id = $1 ORDER BY created_at', [
      organizationId,
    ]);
    return ok(rows.map(toServer));
  }

  async get(actor: Actor, id: string): Promise<Result<Server, TenancyError>> {
    const { rows } = await this.pool.query('SELECT * FROM servers WHERE id = $1', [id]);
    if (!rows[0]) return err(notFound('server'));
    const allowed = authorize(actor, { do: 'see-server', organizationId: rows[0].organization_id });
    return allowed.ok ? ok(toServer(rows[0])) : allowed;
  }

  async update(actor: Actor, id: string, input: UpdateServer): Promise<Result<Server, TenancyError>> {
    return inResultTransaction(this.pool, async (c) => {
      const before = await c.query('SELECT * FROM servers WHERE id = $1 FOR UPDATE', [id]);
      if (!before.rows[0]) return err(notFound('server'));
      const allowed = authorize(actor, {
        do: 'update-server',
        organizationId: before.rows[0].organization_id,
        changes: input,
      });
      if (!allowed.ok) return allowed;
      if (input.postmasterAddress) {
        // mail from it is sent through the server's accept path, which takes only its verified domains
        const domain = input.postmasterAddress.slice(input.postmasterAddress.lastIndexOf('@') + 1);
        const verified = await c.query(
          'SELECT 1 FROM domains WHERE server_id = $1 AND name = $2 AND verified_at IS NOT NULL',
          [id, domain],
        );
        if (!verified.rows[0])
          return err({
            code: 'INVALID',
            message: `${domain} is not a verified domain of this server: the postmaster address must be at one`,
            field: 'postmasterAddress',
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
           tracking_secret_previous_sealed =
             CASE WHEN $18::boolean THEN tracking_secret_sealed ELSE tracking_secret_previous_sealed END,
           tracking_secret = CASE WHEN $18::boolean THEN NULL ELSE tracking_secret END,
           tracking_secret_sealed = CASE WHEN $18::boolean THEN $29::text ELSE tracking_secret_sealed END,
           privacy_mode = coalesce($19, privacy_mode),
           allowed_senders = coalesce($20::text[], allowed_senders),
           postmaster_address = CASE WHEN $21::boolean THEN $22::text ELSE postmaster_address END,
           outbound_spam_threshold = CASE WHEN $23::boolean THEN $24::double precision ELSE outbound_spam_threshold END,
           spam_threshold = CASE WHEN $25::boolean THEN $26::double precision ELSE spam_threshold END,
           spam_fail_threshold = CASE WHEN $27::boolean THEN $28::double precision ELSE spam_fail_threshold END,
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
          set(input.privacyMode),
          input.allowedSenders === undefined ? null : [...new Set(input.allowedSenders)],
          input.postmasterAddress !== undefined,
          set(input.postmasterAddress),
          input.outboundSpamThreshold !== undefined,
          set(input.outboundSpamThreshold),
          input.spamThreshold !== undefined,
          set(input.spamThreshold),
          input.spamFailThreshold !== undefined,
          set(input.spamFailThreshold),
          input.rotateTrackingSecret === true ? this.newTrackingKey(id) : null,
        ],
      );
      const server = toServer(rows[0]);
      await recordChange(c, actor, {
        action: 'update',
        entityType: 'server',
        entityId: id,
        scope: { organizationId: server.organizationId, serverId: id },
        before: toServer(before.rows[0]),
        after: server,
      });
      return ok(server);
    });
  }

  /** Removes the server with its domains and credentials; its messages stay in the log. */
  async delete(actor: Actor, id: string): Promise<Result<void, TenancyError>> {
    return inResultTransaction(this.pool, async (c) => {
      const before = await c.query('SELECT * FROM servers WHERE id = $1 FOR UPDATE', [id]);
      if (!before.rows[0]) return err(notFound('server'));
      const allowed = authorize(actor, {
        do: 'manage',
        organizationId: before.rows[0].organization_id,
        what: 'server',
      });
      if (!allowed.ok) return allowed;
      await c.query('DELETE FROM dkim_keys WHERE domain_id IN (SELECT id FROM domains WHERE server_id = $1)', [id]);
      await c.query('DELETE FROM domains WHERE server_id = $1', [id]);
      await c.query('DELETE FROM credentials WHERE server_id = $1', [id]);
      await c.query('DELETE FROM servers WHERE id = $1', [id]);
      const server = toServer(before.rows[0]);
      await recordChange(c, actor, {
        action: 'delete',
        entityType: 'server',
        entityId: id,
        scope: { organizationId: server.organizationId, serverId: id },
        before: server,
        after: null,
      });
      return ok(undefined);
    });
  }
}
