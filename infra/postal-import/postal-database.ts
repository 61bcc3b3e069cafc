import mysql from 'mysql2/promise';
import { PostalSnapshot } from '../../domain/postal-import/index.js';

/** Where the import reads, and how Postal named each server's message database. */
export interface PostalSource {
  /** mysql://user:password@host:port/postal */
  url: string;
  /** Postal's message_db.database_name_prefix ("postal" unless changed): `<prefix>-server-<id>`. */
  messageDbPrefix: string;
}

/** Why the import could not read Postal (unreachable, not a Postal 3.x database). */
export class PostalUnreadable extends Error {}

type Row = Record<string, unknown>;

/**
 * Reads a running Postal 3.x installation's MariaDB: the main database's tenancy and each server's
 * suppression list (in its own message database). Read-only: it runs SELECTs alone.
 */
export async function readPostal(source: PostalSource): Promise<PostalSnapshot> {
  let db: mysql.Connection;
  try {
    // Rails keeps datetimes in UTC
    db = await mysql.createConnection({ uri: source.url, timezone: 'Z', connectTimeout: 10_000 });
  } catch (e) {
    throw new PostalUnreadable(`cannot connect to ${redacted(source.url)}: ${(e as Error).message}`);
  }
  try {
    const rows = async (sql: string): Promise<Row[]> => {
      try {
        return (await db.query(sql))[0] as Row[];
      } catch (e) {
        throw new PostalUnreadable(`${redacted(source.url)} does not look like Postal 3.x: ${(e as Error).message}`);
      }
    };
    const servers = await rows(
      `SELECT id, organization_id, name, permalink, token, mode, send_limit, message_retention_days,
              raw_message_retention_days, raw_message_retention_size, ip_pool_id, suspended_at, suspension_reason,
              deleted_at, privacy_mode, log_smtp_data, allow_sender, postmaster_address, spam_threshold,
              spam_failure_threshold, outbound_spam_threshold, domains_not_to_click_track FROM servers ORDER BY id`,
    );
    const webhookEvents = await rows('SELECT webhook_id, event FROM webhook_events ORDER BY id');
    const additionalEndpoints = await rows(
      'SELECT route_id, endpoint_type, endpoint_id FROM additional_route_endpoints ORDER BY id',
    );
    const addresses = await rows('SELECT ip_pool_id, ipv4, ipv6, hostname, priority FROM ip_addresses ORDER BY id');
    const suppressions: Row[] = [];
    const unreadMessageDatabases: { serverId: number; reason: string }[] = [];
    for (const s of servers) {
      if (s.deleted_at) continue;
      const name = `${source.messageDbPrefix}-server-${s.id}`;
      try {
        const [found] = await db.query(
          `SELECT ? AS server_id, type, address, reason, keep_until FROM ${mysql.escapeId(name)}.suppressions`,
          [s.id],
        );
        suppressions.push(...(found as Row[]));
      } catch (e) {
        unreadMessageDatabases.push({ serverId: Number(s.id), reason: (e as Error).message });
      }
    }
    const count = async (table: string) => Number((await rows(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
    const snapshot = PostalSnapshot.safeParse({
      organizations: camel(
        await rows(
          `SELECT id, name, permalink, ip_pool_id, suspended_at, suspension_reason, deleted_at
             FROM organizations ORDER BY id`,
        ),
      ),
      servers: camel(servers),
      domains: camel(
        await rows(
          `SELECT id, owner_type, owner_id, server_id, name, verification_token, verification_method, verified_at,
                  dkim_private_key, dkim_identifier_string, outgoing, incoming FROM domains ORDER BY id`,
        ),
      ),
      credentials: camel(await rows('SELECT id, server_id, type, `key`, name, hold FROM credentials ORDER BY id')),
      trackDomains: camel(
        await rows(
          `SELECT t.id, t.server_id, t.name, d.name AS domain_name, t.ssl_enabled, t.track_clicks, t.track_loads,
                  t.excluded_click_domains
             FROM track_domains t LEFT JOIN domains d ON d.id = t.domain_id ORDER BY t.id`,
        ),
      ),
      httpEndpoints: camel(
        await rows(
          `SELECT id, name, url, encoding, format, strip_replies, include_attachments, timeout
             FROM http_endpoints ORDER BY id`,
        ),
      ),
      smtpEndpoints: camel(await rows('SELECT id, name, hostname, ssl_mode, port FROM smtp_endpoints ORDER BY id')),
      addressEndpoints: camel(await rows('SELECT id, address FROM address_endpoints ORDER BY id')),
      routes: camel(
        await rows(
          `SELECT r.id, r.server_id, r.name, d.name AS domain_name, r.mode, r.endpoint_type, r.endpoint_id, r.spam_mode
             FROM routes r LEFT JOIN domains d ON d.id = r.domain_id ORDER BY r.id`,
        ),
      ).map((r) => ({
        ...r,
        additionalEndpoints: camel(additionalEndpoints.filter((a) => a.route_id === r.id)).map((a) => ({
          endpointType: a.endpointType,
          endpointId: a.endpointId,
        })),
      })),
      webhooks: camel(
        await rows('SELECT id, server_id, name, url, all_events, enabled, sign FROM webhooks ORDER BY id'),
      ).map((w) => ({ ...w, events: webhookEvents.filter((e) => e.webhook_id === w.id).map((e) => e.event) })),
      ipPools: camel(await rows('SELECT id, name, `default` AS is_default FROM ip_pools ORDER BY id')).map((p) => ({
        ...p,
        addresses: camel(addresses.filter((a) => a.ip_pool_id === p.id)),
      })),
      ipPoolRules: camel(
        await rows('SELECT id, owner_type, owner_id, ip_pool_id, from_text, to_text FROM ip_pool_rules ORDER BY id'),
      ),
      suppressions: camel(suppressions).map((x) => ({
        ...x,
        // the message databases keep times as decimal seconds since 1970
        keepUntil: new Date(Number(x.keepUntil) * 1000),
      })),
      unreadMessageDatabases,
      users: await count('users'),
    });
    if (!snapshot.success)
      throw new PostalUnreadable(
        `${redacted(source.url)} holds rows Postlog cannot read: ` +
          snapshot.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    return snapshot.data;
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** snake_case columns as camelCase keys. */
function camel(rows: Row[]): Row[] {
  return rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), v]),
    ),
  );
}

/** The URL without its password, for messages. */
export function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the given --mysql URL';
  }
}
