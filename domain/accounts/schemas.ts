import { z } from 'zod';

/**
 * Dashboard users and their roles. Per organization: `admin` manages servers, domains,
 * credentials and users; `member` sends, acts on messages and manages webhooks, routes and
 * suppressions; `viewer` reads. A global admin may do everything everywhere.
 */
export const OrgRole = z.enum(['admin', 'member', 'viewer']);
export type OrgRole = z.infer<typeof OrgRole>;

const RANK: Record<OrgRole, number> = { viewer: 0, member: 1, admin: 2 };

/** Whether a role includes what `needed` may do (admin ⊃ member ⊃ viewer). */
export const roleIncludes = (role: OrgRole, needed: OrgRole): boolean => RANK[role] >= RANK[needed];

export const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email())
  .transform((e) => e.toLowerCase());

export const Membership = z.object({ organizationId: z.string(), organizationName: z.string(), role: OrgRole });
export type Membership = z.infer<typeof Membership>;

export const UserSchema = z.object({
  id: z.string(),
  email: z.string(),
  globalAdmin: z.boolean(),
  totpEnabled: z.boolean(),
  disabled: z.boolean(),
  memberships: z.array(Membership),
  createdAt: z.string(),
});
export type User = z.infer<typeof UserSchema>;

export const CreateUser = z
  .object({
    email: Email,
    /** Omitted: the user is invited by email and sets a password from the link. */
    password: z.string().optional(),
    globalAdmin: z.boolean().default(false),
    organizationId: z.uuid().optional(),
    role: OrgRole.optional(),
  })
  .strict()
  .refine((u) => (u.organizationId === undefined) === (u.role === undefined), {
    message: 'organizationId and role come together',
    path: ['role'],
  });
export type CreateUser = z.infer<typeof CreateUser>;

export const Login = z
  .object({ email: Email, password: z.string().min(1).max(256), totpCode: z.string().max(10).optional() })
  .strict();
export type Login = z.infer<typeof Login>;
