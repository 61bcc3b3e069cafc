import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

export type OrgRole = 'admin' | 'member' | 'viewer';

export interface Session {
  user: { id: string; email: string; globalAdmin: boolean; totpEnabled: boolean };
  memberships: { organizationId: string; organizationName: string; role: OrgRole }[];
  csrfToken: string;
}

export const SessionContext = createContext<{ session: Session; refresh: () => Promise<void> } | null>(null);

export function useSession(): Session {
  const ctx = useContext(SessionContext);
  if (!ctx) throw new Error('useSession outside a logged-in page');
  return ctx.session;
}

const RANK: Record<OrgRole, number> = { viewer: 0, member: 1, admin: 2 };

/**
 * Whether to offer an action in the page. Only a hint: the API decides, and answers 403 to a
 * session whose role does not allow it.
 */
export function may(session: Session, organizationId: string | undefined, needed: OrgRole): boolean {
  if (session.user.globalAdmin) return true;
  const m = session.memberships.find((x) => x.organizationId === organizationId);
  return m !== undefined && RANK[m.role] >= RANK[needed];
}
