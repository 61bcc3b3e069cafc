import { z } from 'zod';
import type { DmarcCounts, DmarcSelection, DmarcSource, DmarcSummary } from '../../infra/dmarc-reports/index.js';
import { MAX_LIMIT, TimeRange, type Scope } from '../analytics/reports-port.js';

/**
 * DMARC aggregate reports over GraphQL, beside the analytics. They are read from PostgreSQL in
 * every mode, ClickHouse or not: a domain gets a report or two per reporter a day (small rows, not
 * event volumes), they are a projection of the log like the other read models, and a query needs
 * the domain's server for its scope, which only PostgreSQL knows.
 */
export const dmarcTypeDefs = /* GraphQL */ `
  extend type Query {
    "A sending domain's DMARC aggregate reports whose period began in the range (default: the 30 days before to)."
    dmarcSummary(domain: String!, from: String, to: String, serverId: ID): DmarcSummary!
    "Who sent mail as the domain, per source IP and reporter, the most messages first (1-1000). failing: only sources some of whose mail failed DMARC."
    dmarcSources(domain: String!, from: String, to: String, serverId: ID, failing: Boolean = false, limit: Int = 100): [DmarcSource!]!
  }

  """
  Messages the reports covered; of them, how many passed DKIM aligned with the From domain, SPF
  aligned, and DMARC (either aligned). Rates are fractions of messages (null without messages).
  """
  type DmarcSummary {
    domain: String!
    reports: Int!
    messages: Int!
    dkimAligned: Int!
    spfAligned: Int!
    dmarcPass: Int!
    dkimAlignedRate: Float
    spfAlignedRate: Float
    dmarcPassRate: Float
    reporters: [DmarcReporter!]!
    "Mails to the report address for the domain that could not be read (kept in the log with a reason)."
    refused: Int!
  }
  type DmarcReporter {
    org: String!
    reports: Int!
    messages: Int!
    dkimAligned: Int!
    spfAligned: Int!
    dmarcPass: Int!
    dkimAlignedRate: Float
    spfAlignedRate: Float
    dmarcPassRate: Float
  }
  type DmarcSource {
    ip: String!
    reporter: String!
    messages: Int!
    dkimAligned: Int!
    spfAligned: Int!
    dmarcPass: Int!
    dkimAlignedRate: Float
    spfAlignedRate: Float
    dmarcPassRate: Float
    "Messages the reporter quarantined or rejected under the domain's policy."
    quarantined: Int!
    rejected: Int!
  }
`;

export const DMARC_REPORT_FIELDS = ['dmarcSummary', 'dmarcSources'] as const;

/** Where the resolvers read (infra/dmarc-reports/, bound to the pool by the composition root). */
export interface DmarcReader {
  summary(s: DmarcSelection): Promise<DmarcSummary>;
  sources(s: DmarcSelection, o: { failing: boolean; limit: number }): Promise<DmarcSource[]>;
}

const DAY_MS = 86_400_000;
const DEFAULT_RANGE_MS = 30 * DAY_MS;

export const DmarcQuery = z.object({
  scope: z.object({ serverIds: z.array(z.string()).nullable() }),
  domain: z
    .string()
    .min(1)
    .max(253)
    .transform((s) => s.trim().toLowerCase().replace(/\.$/, '')),
  range: TimeRange,
});

export interface DmarcArgs {
  domain: string;
  from?: string | null;
  to?: string | null;
  serverId?: string | null;
}

const rate = (n: number, of: number) => (of === 0 ? null : n / of);
export const withRates = <T extends DmarcCounts>(c: T) => ({
  ...c,
  dkimAlignedRate: rate(c.dkimAligned, c.messages),
  spfAlignedRate: rate(c.spfAligned, c.messages),
  dmarcPassRate: rate(c.dmarcPass, c.messages),
});

/** The query's input before validation: the range defaulted as the analytics' is (30 days here). */
export function dmarcInput(scope: Scope, args: DmarcArgs) {
  const to = args.to ?? new Date().toISOString();
  const toMs = Date.parse(to);
  const from = args.from ?? (Number.isNaN(toMs) ? to : new Date(toMs - DEFAULT_RANGE_MS).toISOString());
  return { scope, domain: args.domain, range: { from, to } };
}

export const DmarcLimit = z.number().int().min(1).max(MAX_LIMIT);
