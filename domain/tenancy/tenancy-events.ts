import { z } from 'zod';
import { createEventCodec, type EventUnion } from '../events/codec.js';

/**
 * Events about a server or a domain that receivers hear of as webhooks (Postal's SendLimitApproaching,
 * SendLimitExceeded and DomainDNSError). They are in the log, like a message's, so the webhook outbox
 * projection queues each once and a replay makes nothing twice. Each kind has streams of its own.
 */

const Timestamp = z.iso.datetime({ offset: true });

/** Postal's statuses of one kind of record (app/models/concerns/has_dns_checks.rb). */
export const DnsRecordStatus = z.enum(['OK', 'Missing', 'Invalid']);
export type DnsRecordStatus = z.infer<typeof DnsRecordStatus>;
export const DnsRecordHealth = z.object({ status: DnsRecordStatus, error: z.string().nullable() });
export type DnsRecordHealth = z.infer<typeof DnsRecordHealth>;
/** What a check found, per kind of record a sending domain needs. */
export const DnsHealth = z.object({ spf: DnsRecordHealth, dkim: DnsRecordHealth, returnPath: DnsRecordHealth });
export type DnsHealth = z.infer<typeof DnsHealth>;

const SendLimitReached = z.object({
  serverId: z.string().min(1),
  /** Messages per hour the server may send. */
  limit: z.number().int().positive(),
  /** Messages counted in the window when it happened. */
  volume: z.number().int().min(0),
  /** The start of the clock hour the limit counts. */
  windowStart: Timestamp,
  at: Timestamp,
});
/** 90 % of the server's hourly send limit was used (once per window). */
export const SendLimitApproached = SendLimitReached;
/** A message was held because the server's hourly send limit was used up (once per window). */
export const SendLimitExceeded = SendLimitReached;

/** A verified domain's periodic DNS check started failing (the records it needs are missing or wrong). */
export const DomainDnsFailed = z.object({
  serverId: z.string().min(1),
  domain: z.string().min(1),
  health: DnsHealth,
  at: Timestamp,
});
/** The check of a domain whose check had failed passes again. */
export const DomainDnsRestored = z.object({
  serverId: z.string().min(1),
  domain: z.string().min(1),
  health: DnsHealth,
  at: Timestamp,
});

/** What the reputation guard measures: complaints per delivered message, hard bounces per finished message. */
export const ReputationKind = z.enum(['complaint', 'hard_bounce']);
export type ReputationKind = z.infer<typeof ReputationKind>;
/** A rate over the sliding window, with what it was computed from and the threshold it crossed. */
const ReputationMeasure = {
  serverId: z.string().min(1),
  /** The sending domain (From); null: the whole server. */
  domain: z.string().min(1).nullable(),
  kind: ReputationKind,
  /** A fraction (0.003 is 0.3 %). */
  rate: z.number().min(0),
  /** Complaints or hard bounces counted. */
  count: z.number().int().min(0),
  /** What the rate is of: delivered messages (complaints), delivered and bounced ones (hard bounces). */
  volume: z.number().int().min(0),
  /** The threshold crossed, a fraction. */
  threshold: z.number().min(0),
  /** Where the window started (the window's length before, or the last resume if later). */
  windowStart: Timestamp,
  at: Timestamp,
};
/** A rate reached its warning threshold (once, until it falls below it again). */
export const ReputationWarning = z.object(ReputationMeasure);
/** The rate fell below its warning threshold again: a later rise warns again (no webhook). */
export const ReputationRecovered = z.object(ReputationMeasure);
/** A rate reached its pause threshold: new mail of the scope is held until an operator resumes it. */
export const SendingPaused = z.object({ ...ReputationMeasure, reason: z.string().min(1) });
/** An operator lifted the pause; the window restarts here (what came before counts no more). */
export const SendingResumed = z.object({
  serverId: z.string().min(1),
  domain: z.string().min(1).nullable(),
  by: z.string().min(1),
  at: Timestamp,
});

export const tenancyEventCodec = createEventCodec({
  SendLimitApproached: { schema: SendLimitApproached, schemaVersion: 1 },
  SendLimitExceeded: { schema: SendLimitExceeded, schemaVersion: 1 },
  DomainDnsFailed: { schema: DomainDnsFailed, schemaVersion: 1 },
  DomainDnsRestored: { schema: DomainDnsRestored, schemaVersion: 1 },
  ReputationWarning: { schema: ReputationWarning, schemaVersion: 1 },
  ReputationRecovered: { schema: ReputationRecovered, schemaVersion: 1 },
  SendingPaused: { schema: SendingPaused, schemaVersion: 1 },
  SendingResumed: { schema: SendingResumed, schemaVersion: 1 },
});
export type TenancyEvent = EventUnion<typeof tenancyEventCodec.definitions>;

/** A server's send-limit warnings. */
export const SEND_LIMIT_STREAM_PREFIX = 'send-limit-';
export const sendLimitStreamId = (serverId: string) => `${SEND_LIMIT_STREAM_PREFIX}${serverId}`;
/** A domain's DNS check status changes. */
export const DOMAIN_DNS_STREAM_PREFIX = 'domain-dns-';
export const domainDnsStreamId = (domainId: string) => `${DOMAIN_DNS_STREAM_PREFIX}${domainId}`;
/** A server's reputation guard: warnings, pauses and resumes of the server and of its sending domains. */
export const REPUTATION_STREAM_PREFIX = 'reputation-';
export const reputationStreamId = (serverId: string) => `${REPUTATION_STREAM_PREFIX}${serverId}`;
