import { z } from 'zod';

/**
 * The analytics report contract: one port, two adapters (Postgres tables in the embedded mode,
 * ClickHouse at scale), one contract test suite (test/contract/analytics-reports.contract.ts).
 *
 * Counting rules, the same in both adapters:
 * - every event counts at the time it happened (its `at`), not when it was recorded;
 * - accepted, delivered, bounced, deferred and failed count distinct messages with at least one
 *   such event in the range (a message deferred three times is one deferred message);
 * - opened and clicked count events (`total`) and distinct messages (`unique`), overall and split
 *   into people (`human`) and machines (image proxies, link scanners: `machine`);
 * - a message's dimensions (server, sending domain, recipient domain, tag) come from its
 *   MessageAccepted; its mailbox provider and sending IP from its latest delivery attempt, so they are
 *   unknown ('' → null in a breakdown) for events before the first attempt;
 * - an event delivered twice to an at-least-once sink is counted once (the ClickHouse sink dedupes by
 *   event id on insert and its table merges copies away).
 */

/** How long a report may look back over, and per time-series bucket (keeps every query bounded). */
export const MAX_RANGE_DAYS = 1100;
export const MAX_RANGE_DAYS_PER_BUCKET = { minute: 3, hour: 93, day: MAX_RANGE_DAYS, week: MAX_RANGE_DAYS } as const;
export const MAX_LIMIT = 1000;

const DAY_MS = 86_400_000;
const Instant = z.iso.datetime({ offset: true });

/**
 * The IANA name of a time zone both databases know (Postgres and ClickHouse read the same tz
 * database): "Europe/Paris", "America/New_York", "UTC". Canonicalised ("utc" → "UTC") because
 * ClickHouse is case-sensitive. Offsets and abbreviations ("+02:00", "CEST") are refused.
 */
export const TimeZone = z
  .string()
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/, 'must be an IANA time zone name such as Europe/Paris')
  .transform((tz, ctx) => {
    try {
      return new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${tz}" is not an IANA time zone` });
      return z.NEVER;
    }
  });

/** The servers a caller may see: a list, or null for every server (a global admin). */
export const Scope = z.object({ serverIds: z.array(z.string().min(1)).nullable() });
export type Scope = z.infer<typeof Scope>;

/** [from, to): the events that happened at or after `from` and before `to`. */
export const TimeRange = z
  .object({ from: Instant, to: Instant })
  .refine((r) => Date.parse(r.from) < Date.parse(r.to), { message: '"from" must be before "to"', path: ['to'] })
  .refine((r) => Date.parse(r.to) - Date.parse(r.from) <= MAX_RANGE_DAYS * DAY_MS, {
    message: `a range spans at most ${MAX_RANGE_DAYS} days`,
    path: ['to'],
  });
export type TimeRange = z.infer<typeof TimeRange>;

const lowerDomain = z
  .string()
  .min(1)
  .max(253)
  .transform((s) => s.trim().toLowerCase().replace(/\.$/, ''));
/** Only events of messages matching every filter given (exact matches). */
export const ReportFilter = z.object({
  tag: z.string().min(1).max(200).optional(),
  sendingDomain: lowerDomain.optional(),
  recipientDomain: lowerDomain.optional(),
  mailboxProvider: lowerDomain.optional(),
  ip: z.string().min(1).max(64).optional(),
});
export type ReportFilter = z.infer<typeof ReportFilter>;

export const ReportQuery = z.object({ scope: Scope, range: TimeRange, filter: ReportFilter.default({}) });
export type ReportQuery = z.infer<typeof ReportQuery>;

export const Bucket = z.enum(['minute', 'hour', 'day', 'week']);
export type Bucket = z.infer<typeof Bucket>;

/** Buckets start at the zone's wall-clock boundaries; weeks start on Monday (ISO). */
export const TimeSeriesQuery = ReportQuery.extend({ bucket: Bucket, timeZone: TimeZone.default('UTC') }).refine(
  (q) => Date.parse(q.range.to) - Date.parse(q.range.from) <= MAX_RANGE_DAYS_PER_BUCKET[q.bucket] * DAY_MS,
  {
    message: `the range is too long for the bucket: at most ${Object.entries(MAX_RANGE_DAYS_PER_BUCKET)
      .map(([b, d]) => `${d} days of ${b}s`)
      .join(', ')}`,
    path: ['range'],
  },
);
export type TimeSeriesQuery = z.infer<typeof TimeSeriesQuery>;

export const BreakdownDimension = z.enum([
  'recipientDomain',
  'mailboxProvider',
  'tag',
  'sendingDomain',
  'bounceClassification',
  'ip',
]);
export type BreakdownDimension = z.infer<typeof BreakdownDimension>;
/** A breakdown's order: by one of the funnel's message counts (opened/clicked: unique messages). */
export const FunnelMetric = z.enum(['accepted', 'delivered', 'bounced', 'deferred', 'failed', 'opened', 'clicked']);
export type FunnelMetric = z.infer<typeof FunnelMetric>;

const Limit = z.number().int().min(1).max(MAX_LIMIT);
/** The `limit` largest values of a dimension, largest first (ties by key). Bounce classification counts bounced messages only. */
export const BreakdownQuery = ReportQuery.extend({
  dimension: BreakdownDimension,
  limit: Limit.default(20),
  orderBy: FunnelMetric.default('accepted'),
});
export type BreakdownQuery = z.infer<typeof BreakdownQuery>;

export const TopLinksQuery = ReportQuery.extend({ limit: Limit.default(20) });
export type TopLinksQuery = z.infer<typeof TopLinksQuery>;

/** One message's whole engagement history (not limited to a range). */
export const MessageEngagementQuery = z.object({
  scope: Scope,
  // one check: zod runs every refinement even after the regex failed, and BigInt('abc') throws
  messageId: z
    .string()
    .refine((id) => /^\d{1,19}$/.test(id) && BigInt(id) <= 9223372036854775807n, 'must be a message id (digits)'),
});
export type MessageEngagementQuery = z.infer<typeof MessageEngagementQuery>;

const Count = z.number().int().min(0);
const TotalUnique = z.object({ total: Count, unique: Count });
/** Opens or clicks: events (`total`) and distinct messages (`unique`), all and split by who. */
export const EngagementCounts = TotalUnique.extend({ human: TotalUnique, machine: TotalUnique });
export type EngagementCounts = z.infer<typeof EngagementCounts>;

export const FunnelCounts = z.object({
  accepted: Count,
  delivered: Count,
  bounced: Count,
  deferred: Count,
  failed: Count,
  opened: EngagementCounts,
  clicked: EngagementCounts,
});
export type FunnelCounts = z.infer<typeof FunnelCounts>;

export const TimeSeriesPoint = z.object({
  /** The bucket's first instant, ISO 8601 UTC. */
  start: Instant,
  /** The same instant on the zone's wall clock, "2026-03-29T00:00:00" (what a chart's axis shows). */
  local: z.string(),
  counts: FunnelCounts,
});
export type TimeSeriesPoint = z.infer<typeof TimeSeriesPoint>;

/** key null: events without a value for the dimension (no tag; provider or IP not known yet). */
export const BreakdownRow = z.object({ key: z.string().nullable(), counts: FunnelCounts });
export type BreakdownRow = z.infer<typeof BreakdownRow>;

export const TopLink = z.object({ url: z.string(), clicks: EngagementCounts });
export type TopLink = z.infer<typeof TopLink>;

export const MessageEngagement = z.object({
  messageId: z.string(),
  serverId: z.string(),
  opened: EngagementCounts,
  clicked: EngagementCounts,
  firstOpenedAt: Instant.nullable(),
  lastOpenedAt: Instant.nullable(),
  firstClickedAt: Instant.nullable(),
  lastClickedAt: Instant.nullable(),
  links: z.array(TopLink),
});
export type MessageEngagement = z.infer<typeof MessageEngagement>;

/** The reports. Adapters get validated queries (parse them with the schemas above first). */
export interface AnalyticsReports {
  /** Which adapter answers ("postgres" or "clickhouse"). */
  readonly backend: string;
  funnel(q: ReportQuery): Promise<FunnelCounts>;
  /** Buckets with at least one event, oldest first. */
  timeSeries(q: TimeSeriesQuery): Promise<TimeSeriesPoint[]>;
  breakdown(q: BreakdownQuery): Promise<BreakdownRow[]>;
  /** Most clicked links (by clicks, then URL). */
  topLinks(q: TopLinksQuery): Promise<TopLink[]>;
  /** null when the message does not exist in the caller's scope, or has no analytics yet. */
  messageEngagement(q: MessageEngagementQuery): Promise<MessageEngagement | null>;
}

/** "2026-03-29T00:00:00": an instant on a zone's wall clock (shared by the adapters). */
export function localTime(instant: string, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(instant));
  const p = (type: string) => parts.find((x) => x.type === type)?.value ?? '00';
  return `${p('year')}-${p('month')}-${p('day')}T${p('hour')}:${p('minute')}:${p('second')}`;
}

export const emptyEngagement = (): EngagementCounts => ({
  total: 0,
  unique: 0,
  human: { total: 0, unique: 0 },
  machine: { total: 0, unique: 0 },
});
export const emptyFunnel = (): FunnelCounts => ({
  accepted: 0,
  delivered: 0,
  bounced: 0,
  deferred: 0,
  failed: 0,
  opened: emptyEngagement(),
  clicked: emptyEngagement(),
});

/**
 * The per-group aggregate both adapters' SQL returns (one column each; names shared so the two
 * adapters map rows the same way): message counts per type, and events/messages for opens and clicks.
 */
export const AGGREGATE_COLUMNS = [
  'accepted',
  'delivered',
  'bounced',
  'deferred',
  'failed',
  'opened_total',
  'opened_unique',
  'opened_human_total',
  'opened_human_unique',
  'opened_machine_total',
  'opened_machine_unique',
  'clicked_total',
  'clicked_unique',
  'clicked_human_total',
  'clicked_human_unique',
  'clicked_machine_total',
  'clicked_machine_unique',
] as const;
export type AggregateRow = Record<(typeof AGGREGATE_COLUMNS)[number], number | string>;

export function funnelOfAggregate(r: AggregateRow): FunnelCounts {
  const n = (k: (typeof AGGREGATE_COLUMNS)[number]) => Number(r[k]);
  const engagement = (p: 'opened' | 'clicked'): EngagementCounts => ({
    total: n(`${p}_total`),
    unique: n(`${p}_unique`),
    human: { total: n(`${p}_human_total`), unique: n(`${p}_human_unique`) },
    machine: { total: n(`${p}_machine_total`), unique: n(`${p}_machine_unique`) },
  });
  return {
    accepted: n('accepted'),
    delivered: n('delivered'),
    bounced: n('bounced'),
    deferred: n('deferred'),
    failed: n('failed'),
    opened: engagement('opened'),
    clicked: engagement('clicked'),
  };
}

/** The analytics column each breakdown dimension reads. */
export const DIMENSION_COLUMN: Record<BreakdownDimension, string> = {
  recipientDomain: 'recipient_domain',
  mailboxProvider: 'mailbox_provider',
  tag: 'tag',
  sendingDomain: 'sending_domain',
  bounceClassification: 'bounce_classification',
  ip: 'ip',
};

/** The analytics column each filter reads. */
export const FILTER_COLUMN: Record<keyof ReportFilter, string> = {
  tag: 'tag',
  sendingDomain: 'sending_domain',
  recipientDomain: 'recipient_domain',
  mailboxProvider: 'mailbox_provider',
  ip: 'ip',
};
