import { z } from 'zod';

/**
 * The variable in which the supervisor tells its processes what database it opened ('embedded' or
 * 'external'): they reach it by URL, and would otherwise all report an embedded server as external.
 */
export const DATABASE_KIND_ENV = 'POSTLOG_DATABASE_KIND';
export const DatabaseKind = z.enum(['embedded', 'external']);

/**
 * What the supervisor and its processes say to each other over the cluster IPC channel. Both ends
 * are Postlog, but a message is still parsed: a malformed one is ignored, never trusted.
 */
export const ToSupervisor = z.discriminatedUnion('type', [
  /** The process finished start-up (its roles run, its ports listen). */
  z.object({ type: z.literal('postlog:ready'), httpUrl: z.string() }),
  /** A process serving /metrics asks for the metrics of all processes. */
  z.object({ type: z.literal('postlog:metrics-request'), id: z.number() }),
  /** A process's own metrics (prom-client JSON), for the supervisor's aggregation. */
  z.object({ type: z.literal('postlog:metrics-json'), id: z.number(), metrics: z.array(z.unknown()) }),
]);
export type ToSupervisor = z.infer<typeof ToSupervisor>;

export const ToProcess = z.discriminatedUnion('type', [
  /** Every process is ready: /ready may answer 200. */
  z.object({ type: z.literal('postlog:all-ready') }),
  /** Send your own metrics as JSON. */
  z.object({ type: z.literal('postlog:metrics-collect'), id: z.number() }),
  /** The aggregated metrics asked for with `id` (Prometheus text), or why there are none. */
  z.object({
    type: z.literal('postlog:metrics'),
    id: z.number(),
    text: z.string().optional(),
    error: z.string().optional(),
  }),
]);
export type ToProcess = z.infer<typeof ToProcess>;
