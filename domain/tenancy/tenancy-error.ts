import { z } from 'zod';

/** What a tenancy operation answers when it refuses; the codes are the HTTP catalogue's. */
export const TenancyError = z.discriminatedUnion('code', [
  z.object({ code: z.literal('NOT_FOUND'), message: z.string() }),
  z.object({ code: z.literal('CONFLICT'), message: z.string() }),
  z.object({ code: z.literal('FORBIDDEN'), message: z.string() }),
  z.object({ code: z.literal('INVALID'), message: z.string(), field: z.string().optional() }),
]);
export type TenancyError = z.infer<typeof TenancyError>;

/**
 * Not there, or not visible to the actor: both answer the same, so ids of other tenants cannot be
 * probed.
 */
export const notFound = (what: string): TenancyError => ({ code: 'NOT_FOUND', message: `${what} not found` });

export const forbidden = (message: string): TenancyError => ({ code: 'FORBIDDEN', message });
