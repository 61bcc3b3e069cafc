import { z } from 'zod';

/**
 * A dashboard user's role in an organization: `admin` manages servers, domains, credentials and
 * users; `member` sends, acts on messages and manages webhooks, routes and suppressions; `viewer`
 * reads. An organization's admin token acts as its admin; a global admin may do everything.
 */
export const OrgRole = z.enum(['admin', 'member', 'viewer']);
export type OrgRole = z.infer<typeof OrgRole>;

const RANK: Record<OrgRole, number> = { viewer: 0, member: 1, admin: 2 };

/** Whether a role includes what `needed` may do (admin ⊃ member ⊃ viewer). */
export const roleIncludes = (role: OrgRole, needed: OrgRole): boolean => RANK[role] >= RANK[needed];
