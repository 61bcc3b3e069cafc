import type pg from 'pg';
import type { ServerFacts } from '../../domain/index.js';

/**
 * Name and organization of these servers (those that still exist), on the connection given: the
 * webhook outbox projection reads them, in its transaction, for the server hash of a server's or a
 * domain's webhook.
 */
export async function loadServerFacts(client: pg.ClientBase, ids: string[]): Promise<ServerFacts[]> {
  if (ids.length === 0) return [];
  const { rows } = await client.query('SELECT id, name, organization_id FROM servers WHERE id = ANY($1::uuid[])', [
    ids,
  ]);
  return rows.map((r) => ({ serverId: r.id, name: r.name, organizationId: r.organization_id }));
}
