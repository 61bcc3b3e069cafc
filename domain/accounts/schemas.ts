import { z } from 'zod';
import { OrgRole } from '../tenancy/roles.js';

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
