import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../infra/config/index.js';
import type { StopStack } from '../stop-stack.js';
import type { Services } from '../services.js';

export type RoleName = Config['roles'][number];

/**
 * One role a process may run (POSTLOG_ROLES). Start-up sets every enabled role up in the order of
 * `roles` in roles/index.ts (building what it needs, collecting its HTTP routes), opens the one HTTP
 * listener with every role's routes, lets roles open listeners of their own (SMTP), and only then
 * starts the background work (projections, MTA, dispatchers): a process that fails to start has
 * delivered nothing. Each role pushes how to stop what it built or started onto the stack.
 */
export interface Role {
  name: RoleName;
  setUp(s: Services, stack: StopStack): Promise<RoleSetUp>;
  /** Listeners of the role's own, opened once HTTP listens (and closed before it). */
  listen?(s: Services, stack: StopStack): Promise<void>;
}

export interface RoleSetUp {
  routes?: FastifyPluginAsync[];
  /** Starts the background work, once every listener is open; pushes how to stop it. */
  start?(stack: StopStack): void;
}
