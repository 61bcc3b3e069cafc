import type { ImportedDelivery, ImportedStatus, MessageImported } from '../message/events.js';
import type { PostalDelivery, PostalMessage } from './postal-rows.js';
import type { z } from 'zod';

/**
 * A message of Postal's history as the MessageImported event records it (`postlog import postal
 * --messages-days`): what Postal knew, mapped to Postlog's terms. Pure: the reader gives the rows,
 * write-side/postal-import/ appends the events and stores the bodies.
 */

type ImportedData = z.input<typeof MessageImported>;
/** The event's data but for what the import decides: the Postlog ids, the body, the time of the import. */
export type PlannedMessage = Omit<ImportedData, 'messageId' | 'serverId' | 'contentHash' | 'at'>;

/** The key of a Postal message in the import's map: its server's id and its own (ids are per server). */
export const postalMessageKey = (serverId: number, messageId: number) => `${serverId}:${messageId}`;

/** Where a Postal message ended, in Postlog's statuses. Pending and SoftFail: Postal was still delivering it. */
const STATUS: Record<string, z.infer<typeof ImportedStatus>> = {
  Sent: 'delivered',
  Processed: 'delivered',
  Bounced: 'bounced',
  HardFail: 'failed',
  Error: 'failed',
  HoldCancelled: 'cancelled',
  Held: 'held',
  SoftFail: 'deferred',
  Pending: 'deferred',
};

/** At most the last 100 deliveries: the event keeps an attempt series, not an unbounded log. */
const MAX_DELIVERIES = 100;

const iso = (seconds: number) => new Date(Math.round(seconds * 1000)).toISOString();
const text = (value: string | null, max: number) => (value ? value.slice(0, max) : undefined);

export function plannedMessage(m: PostalMessage): PlannedMessage {
  const originStatus = m.status?.trim() || 'Pending';
  const status = m.held && originStatus === 'Pending' ? 'held' : (STATUS[originStatus] ?? 'deferred');
  const rfcMessageId = m.messageId?.trim().replace(/^<|>$/g, '');
  return {
    origin: { system: 'postal', serverId: m.serverId, messageId: m.id },
    direction: m.scope === 'incoming' ? 'incoming' : 'outgoing',
    from: m.mailFrom ?? '',
    to: m.rcptTo ?? '',
    subject: (m.subject ?? '').slice(0, 1000),
    ...(rfcMessageId ? { rfcMessageId } : {}),
    ...(m.token ? { token: m.token.slice(0, 255) } : {}),
    ...(m.tag ? { tag: m.tag } : {}),
    originStatus: originStatus.slice(0, 50),
    status,
    size: Math.max(0, Math.round(m.size ?? 0)),
    ...(m.spamScore !== null && Number.isFinite(m.spamScore) ? { spamScore: m.spamScore } : {}),
    deliveries: m.deliveries.slice(-MAX_DELIVERIES).map(importedDelivery),
    opens: m.loads,
    clicks: m.clicks,
    acceptedAt: iso(m.timestamp),
  };
}

function importedDelivery(d: PostalDelivery): z.input<typeof ImportedDelivery> {
  return {
    status: (d.status?.trim() || 'Unknown').slice(0, 50),
    ...(d.code !== null ? { code: d.code } : {}),
    ...(text(d.output, 1000) ? { output: text(d.output, 1000) } : {}),
    ...(text(d.details, 1000) ? { details: text(d.details, 1000) } : {}),
    tls: d.sentWithSsl,
    ...(d.time !== null && d.time >= 0 ? { durationMs: Math.round(d.time * 1000) } : {}),
    at: iso(d.timestamp),
  };
}

/**
 * Whether the import keeps a message's body: Postal still holds it, the message is within the
 * server's Postlog retention (retention would remove it at once otherwise), it is outgoing (bodies
 * of incoming mail are the incoming log's) and Postal had finished with it (Postlog's retention
 * leaves the bodies of messages still being delivered alone).
 */
export function keepsBody(m: PostalMessage, planned: PlannedMessage, now: Date, retentionDays: number): boolean {
  return (
    m.hasRaw &&
    planned.direction === 'outgoing' &&
    planned.status !== 'deferred' &&
    now.getTime() - m.timestamp * 1000 < retentionDays * 86_400_000
  );
}
