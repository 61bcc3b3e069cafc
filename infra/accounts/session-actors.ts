import type { Actor } from '../../domain/index.js';
import type { SessionStore } from './sessions.js';
import type { UserStore } from './users.js';

export interface SessionActor {
  actor: Actor;
  /** What a change made with this session must carry in X-CSRF-Token. */
  csrfToken: string;
}

/**
 * The actor a dashboard session acts as: a global admin, or a user with a role in each of its
 * organizations. Read at every request (no cache): a logout, a role change or a disabled account
 * takes effect at once.
 */
export class SessionActors {
  constructor(
    private readonly sessions: SessionStore,
    private readonly users: UserStore,
    private readonly now: () => Date,
  ) {}

  async actorFor(token: string): Promise<SessionActor | undefined> {
    const session = await this.sessions.resolve(token, this.now());
    if (!session) return undefined;
    const user = await this.users.get(session.userId);
    if (!user || user.disabled) return undefined;
    const label = `user:${user.email}`;
    const actor: Actor = user.globalAdmin
      ? { label, organizationId: null, userId: user.id }
      : {
          label,
          organizationId: null,
          userId: user.id,
          roles: Object.fromEntries(user.memberships.map((m) => [m.organizationId, m.role])),
        };
    return { actor, csrfToken: session.csrfToken };
  }
}
