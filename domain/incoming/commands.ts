import { z } from 'zod';
import { EndpointAttempted, EndpointRef, IncomingHoldReason, IncomingReceived, IncomingScanned } from './events.js';

const Timestamp = z.iso.datetime({ offset: true });

/** What becomes of a received message: the route's mode and the scanners' verdict decided it (disposition.ts). */
export const Disposition = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('route'), endpoints: z.array(EndpointRef).min(1) }),
  z.object({ kind: z.literal('store') }),
  z.object({ kind: z.literal('hold'), reason: IncomingHoldReason, detail: z.string() }),
  z.object({ kind: z.literal('bounce'), reply: z.string() }),
  z.object({ kind: z.literal('reject'), reason: z.enum(['spam', 'virus']), reply: z.string() }),
]);
export type Disposition = z.infer<typeof Disposition>;

export const IncomingCommand = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('Receive'),
    // the verdict is its own event now (IncomingScanned): new messages do not carry it inside
    message: IncomingReceived.omit({ at: true, scan: true }),
    /** The scanners' verdict (absent: none configured). */
    scan: IncomingScanned.omit({ at: true }).optional(),
    disposition: Disposition,
    at: Timestamp,
  }),
  EndpointAttempted.omit({ attempt: true }).extend({ type: z.literal('RecordEndpointAttempt') }),
  /** Out of hold: to the route's endpoints as they are now (none: stored). */
  z.object({ type: z.literal('Release'), endpoints: z.array(EndpointRef), at: Timestamp }),
  /** Hand it again to its failed endpoints (all of them when none failed). */
  z.object({ type: z.literal('Retry'), at: Timestamp }),
  /** Retention: the body goes (not while an endpoint has still to take it). */
  z.object({ type: z.literal('ExpireContent'), retentionDays: z.number().int().min(0), at: Timestamp }),
]);
export type IncomingCommand = z.infer<typeof IncomingCommand>;
export type IncomingCommandInput = z.input<typeof IncomingCommand>;
