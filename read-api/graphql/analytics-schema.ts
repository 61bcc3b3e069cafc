import { GraphQLError } from 'graphql';
import { createSchema } from 'graphql-yoga';
import type { z } from 'zod';
import {
  BreakdownQuery,
  MessageEngagementQuery,
  ReportQuery,
  TimeSeriesQuery,
  TopLinksQuery,
  type AnalyticsReports,
  type Scope,
} from '../analytics/reports-port.js';
import {
  DMARC_REPORT_FIELDS,
  DmarcLimit,
  DmarcQuery,
  dmarcInput,
  dmarcTypeDefs,
  withRates,
  type DmarcArgs,
  type DmarcReader,
} from './dmarc-schema.js';

/** The analytics GraphQL schema: every field is one report of the port, for the caller's servers. */
export const typeDefs = /* GraphQL */ `
  """
  Delivery, open and click analytics. Times are ISO 8601 instants ("2026-03-01T00:00:00Z");
  ranges are [from, to): "to" defaults to now, "from" to seven days before "to".
  An API key sees its own server; an organization admin token every server of its organization
  (or one, with serverId); a global admin token every server.
  """
  type Query {
    "Messages per outcome, and opens and clicks, over the range."
    funnel(from: String, to: String, serverId: ID, filter: ReportFilter): Funnel!
    "The funnel per time bucket, on the time zone's wall clock (IANA name). Only buckets with events."
    timeSeries(from: String, to: String, bucket: Bucket!, timeZone: String = "UTC", serverId: ID, filter: ReportFilter): [TimeSeriesPoint!]!
    "The funnel per value of a dimension, the largest first (by orderBy), at most limit rows (1-1000)."
    breakdown(from: String, to: String, by: Dimension!, limit: Int = 20, orderBy: Metric = ACCEPTED, serverId: ID, filter: ReportFilter): [BreakdownRow!]!
    "The most clicked links (1-1000)."
    topLinks(from: String, to: String, limit: Int = 20, serverId: ID, filter: ReportFilter): [TopLink!]!
    "One message's opens and clicks (its whole history). Null when the message is not visible to the caller."
    messageEngagement(messageId: ID!, serverId: ID): MessageEngagement
  }

  "Only events of messages matching every filter given (exact matches)."
  input ReportFilter {
    tag: String
    sendingDomain: String
    recipientDomain: String
    "The registrable domain of the MX host that took the message, e.g. google.com, outlook.com."
    mailboxProvider: String
    "Our sending IP address."
    ip: String
  }

  "Minute buckets cover at most 3 days, hour buckets 93 days, day and week buckets 1100 days. Weeks start on Monday."
  enum Bucket { MINUTE HOUR DAY WEEK }
  enum Dimension { RECIPIENT_DOMAIN MAILBOX_PROVIDER TAG SENDING_DOMAIN BOUNCE_CLASSIFICATION IP }
  "A breakdown's order: messages per outcome (opened and clicked: distinct messages)."
  enum Metric { ACCEPTED DELIVERED BOUNCED DEFERRED FAILED OPENED CLICKED }

  type TotalUnique {
    "Events."
    total: Int!
    "Distinct messages."
    unique: Int!
  }
  type Engagement {
    total: Int!
    unique: Int!
    "People."
    human: TotalUnique!
    "Image proxies, link scanners and other machines."
    machine: TotalUnique!
  }
  "Distinct messages with each outcome in the range; opens and clicks as events and distinct messages."
  type Funnel {
    accepted: Int!
    delivered: Int!
    bounced: Int!
    deferred: Int!
    failed: Int!
    opened: Engagement!
    clicked: Engagement!
  }
  type TimeSeriesPoint {
    "The bucket's first instant (UTC)."
    start: String!
    "The same instant on the time zone's wall clock."
    local: String!
    counts: Funnel!
  }
  type BreakdownRow {
    "Null: events without a value (no tag; provider or IP not known before the first attempt)."
    key: String
    counts: Funnel!
  }
  type TopLink {
    url: String!
    clicks: Engagement!
  }
  type MessageEngagement {
    messageId: ID!
    serverId: ID!
    opened: Engagement!
    clicked: Engagement!
    firstOpenedAt: String
    lastOpenedAt: String
    firstClickedAt: String
    lastClickedAt: String
    links: [TopLink!]!
  }
`;

/** The Query fields that each run a report (what the cost limit counts). */
export const REPORT_FIELDS: ReadonlySet<string> = new Set([
  'funnel',
  'timeSeries',
  'breakdown',
  'topLinks',
  'messageEngagement',
  ...DMARC_REPORT_FIELDS,
]);

export interface AnalyticsContext {
  /** The servers the caller may see, narrowed to `serverId` when given; a GraphQLError when it may not see that server. */
  scope(serverId: string | undefined): Promise<Scope>;
}

const DEFAULT_RANGE_MS = 7 * 86_400_000;

interface RangeArgs {
  from?: string | null;
  to?: string | null;
  serverId?: string | null;
  filter?: Record<string, string | null> | null;
}

/** An error the caller can fix: its code goes to extensions.code (never masked). */
export function userError(message: string, code: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

/** Validates a report's arguments with the port's schema: a BAD_USER_INPUT error naming each field otherwise. */
function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw userError(
    `invalid arguments: ${fields.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message)).join('; ')}`,
    'BAD_USER_INPUT',
    { fields },
  );
}

const present = <T extends Record<string, unknown>>(o: T | null | undefined) =>
  Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== null && v !== undefined));

async function reportInput(ctx: AnalyticsContext, args: RangeArgs) {
  const to = args.to ?? new Date().toISOString();
  const toMs = Date.parse(to);
  const from = args.from ?? (Number.isNaN(toMs) ? to : new Date(toMs - DEFAULT_RANGE_MS).toISOString());
  return { scope: await ctx.scope(args.serverId ?? undefined), range: { from, to }, filter: present(args.filter) };
}

/**
 * The schema; C is the context the server builds (it must offer the analytics context). `dmarc`
 * reads the DMARC reports (dmarc-schema.ts); without it their queries answer an error.
 */
export function analyticsSchema<C extends AnalyticsContext = AnalyticsContext>(
  reports: AnalyticsReports,
  dmarc?: DmarcReader,
) {
  const dmarcSelection = async (ctx: AnalyticsContext, args: DmarcArgs) => {
    if (!dmarc) throw userError('DMARC reports are not available here', 'NOT_AVAILABLE');
    const q = parse(DmarcQuery, dmarcInput(await ctx.scope(args.serverId ?? undefined), args));
    return { reader: dmarc, selection: { serverIds: q.scope.serverIds, domain: q.domain, ...q.range } };
  };
  return createSchema<C>({
    typeDefs: [typeDefs, dmarcTypeDefs],
    resolvers: {
      Bucket: { MINUTE: 'minute', HOUR: 'hour', DAY: 'day', WEEK: 'week' },
      Dimension: {
        RECIPIENT_DOMAIN: 'recipientDomain',
        MAILBOX_PROVIDER: 'mailboxProvider',
        TAG: 'tag',
        SENDING_DOMAIN: 'sendingDomain',
        BOUNCE_CLASSIFICATION: 'bounceClassification',
        IP: 'ip',
      },
      Metric: {
        ACCEPTED: 'accepted',
        DELIVERED: 'delivered',
        BOUNCED: 'bounced',
        DEFERRED: 'deferred',
        FAILED: 'failed',
        OPENED: 'opened',
        CLICKED: 'clicked',
      },
      Query: {
        funnel: async (_: unknown, args: RangeArgs, ctx: AnalyticsContext) =>
          reports.funnel(parse(ReportQuery, await reportInput(ctx, args))),
        timeSeries: async (
          _: unknown,
          args: RangeArgs & { bucket: string; timeZone?: string | null },
          ctx: AnalyticsContext,
        ) =>
          reports.timeSeries(
            parse(TimeSeriesQuery, {
              ...(await reportInput(ctx, args)),
              bucket: args.bucket,
              timeZone: args.timeZone ?? 'UTC',
            }),
          ),
        breakdown: async (
          _: unknown,
          args: RangeArgs & { by: string; limit?: number | null; orderBy?: string | null },
          ctx: AnalyticsContext,
        ) =>
          reports.breakdown(
            parse(BreakdownQuery, {
              ...(await reportInput(ctx, args)),
              dimension: args.by,
              ...present({ limit: args.limit, orderBy: args.orderBy }),
            }),
          ),
        topLinks: async (_: unknown, args: RangeArgs & { limit?: number | null }, ctx: AnalyticsContext) =>
          reports.topLinks(
            parse(TopLinksQuery, { ...(await reportInput(ctx, args)), ...present({ limit: args.limit }) }),
          ),
        messageEngagement: async (
          _: unknown,
          args: { messageId: string; serverId?: string | null },
          ctx: AnalyticsContext,
        ) =>
          reports.messageEngagement(
            parse(MessageEngagementQuery, {
              scope: await ctx.scope(args.serverId ?? undefined),
              messageId: args.messageId,
            }),
          ),
        dmarcSummary: async (_: unknown, args: DmarcArgs, ctx: AnalyticsContext) => {
          const { reader, selection } = await dmarcSelection(ctx, args);
          const summary = await reader.summary(selection);
          return { ...withRates(summary), domain: selection.domain, reporters: summary.reporters.map(withRates) };
        },
        dmarcSources: async (
          _: unknown,
          args: DmarcArgs & { failing?: boolean | null; limit?: number | null },
          ctx: AnalyticsContext,
        ) => {
          const { reader, selection } = await dmarcSelection(ctx, args);
          const limit = parse(DmarcLimit, args.limit ?? 100);
          return (await reader.sources(selection, { failing: args.failing ?? false, limit })).map(withRates);
        },
      },
    },
  });
}
