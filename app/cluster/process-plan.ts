import type { RoleName } from '../../infra/config/index.js';

/** One Node process of a multi-process Postlog, and the roles it runs. */
export interface PlannedProcess {
  /** For logs: web.1, web.2, …, worker. */
  name: string;
  roles: RoleName[];
  /** Listens on the shared HTTP/SMTP ports (several such processes share them). */
  listens: boolean;
}

/** Roles that work through the database on their own (leases, leadership), not through a port. */
const BACKGROUND: readonly RoleName[] = ['mta', 'projector'];

/**
 * How `count` processes divide the configured roles, as Postal divides web, smtp and worker
 * processes: the roles clients connect to (api, tracking, graphql, smtp, inbound) run in every
 * listening process, which share the ports; the background roles run in one process of their own,
 * so delivery and projections never wait behind request handling. With one process, it runs all.
 */
export function planProcesses(roles: readonly RoleName[], count: number): PlannedProcess[] {
  if (count <= 1) return [{ name: 'postlog', roles: [...roles], listens: true }];
  const background = roles.filter((r) => BACKGROUND.includes(r));
  const listening = roles.filter((r) => !BACKGROUND.includes(r));
  if (listening.length === 0) return [{ name: 'worker', roles: background, listens: false }];
  const web = background.length > 0 ? Math.max(1, count - 1) : count;
  return [
    ...Array.from({ length: web }, (_, i) => ({ name: `web.${i + 1}`, roles: listening, listens: true })),
    ...(background.length > 0 ? [{ name: 'worker', roles: background, listens: false }] : []),
  ];
}
