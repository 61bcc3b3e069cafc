import {
  ATTEMPT_STATUSES,
  INCOMING_STREAM_PREFIX,
  messageEventCodec,
  type DeliveryAttempt,
  type EventOf,
  type MessageEvent,
} from '../../domain/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import {
  addDailyStats,
  emptyTables,
  readMessageRows,
  RM_DAILY_STATS,
  RM_DELIVERIES,
  RM_MESSAGE_STATUS,
  RM_MESSAGES,
  STAT_COLUMNS,
  upsertDeliveryRows,
  upsertMessageRows,
  upsertMessageStatusRows,
  type DeliveryRow,
  type MessageRow,
  type Stat,
} from '../../infra/read-models/index.js';
import type { PostgresProjection } from '../runner.js';
import { foldIncoming } from './incoming-rows.js';

/** The number of `message-<id>` and `incoming-<id>`: both kinds share the id space. */
const messageNumber = (streamId: string) => Number(streamId.slice(streamId.indexOf('-') + 1));

const replyText = (d: DeliveryAttempt) =>
  d.reply
    ? `${d.reply.code} ${d.reply.enhancedCode ? `${d.reply.enhancedCode} ` : ''}${d.reply.text}`.slice(0, 1000)
    : null;

/**
 * The read models the admin API lists and searches: one row per message (status, timestamps,
 * attempts, last SMTP reply, engagement counts), one row per delivery attempt, and per-server
 * daily counters. A batch is folded in memory (rows of the messages it touches are read once)
 * and written with one statement per table.
 */
export const messageReadModels: PostgresProjection = {
  name: 'message-read-models',
  version: 2,
  // incoming messages (incoming-<id>) share the list: no event of theirs predates this filter, so no replay
  filter: { streamPrefixes: ['message-', INCOMING_STREAM_PREFIX] },
  tables: [RM_MESSAGES, RM_MESSAGE_STATUS, RM_DELIVERIES, RM_DAILY_STATS],
  async reset(client, t) {
    await emptyTables(client, this.tables.map(t));
  },
  async apply(client, events, t) {
    const ids = [...new Set(events.map((e) => messageNumber(e.streamId)))];
    const rows = await readMessageRows(client, t(RM_MESSAGES), ids);
    const messages = new Map(rows.map((r) => [Number(r.message_id), { ...r, message_id: Number(r.message_id) }]));
    const deliveries: DeliveryRow[] = [];
    const stats = new Map<string, Record<Stat, number>>();
    const count = (serverId: string, at: string, stat: Stat) => {
      const key = `${serverId}|${at.slice(0, 10)}`;
      const s = stats.get(key) ?? (Object.fromEntries(STAT_COLUMNS.map((c) => [c, 0])) as Record<Stat, number>);
      s[stat]++;
      stats.set(key, s);
    };
    for (const r of events) {
      if (r.streamId.startsWith(INCOMING_STREAM_PREFIX)) {
        foldIncoming(messages, messageNumber(r.streamId), r);
        continue;
      }
      const decoded = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
      fold(messages, deliveries, count, Number(r.streamId.slice('message-'.length)), decoded.value, r);
    }
    await upsertMessageRows(client, t(RM_MESSAGES), [...messages.values()]);
    await upsertMessageStatusRows(client, t(RM_MESSAGE_STATUS), [...messages.values()]);
    await upsertDeliveryRows(client, t(RM_DELIVERIES), deliveries);
    await addDailyStats(client, t(RM_DAILY_STATS), stats);
  },
};

function fold(
  messages: Map<number, MessageRow>,
  deliveries: DeliveryRow[],
  count: (serverId: string, at: string, stat: Stat) => void,
  id: number,
  e: MessageEvent,
  r: RecordedEvent,
): void {
  if (e.type === 'MessageAccepted') {
    const d = e.data;
    messages.set(id, {
      message_id: id,
      server_id: d.serverId,
      batch_id: d.batchId,
      rfc_message_id: d.rfcMessageId,
      mail_from: d.from,
      rcpt_to: d.to.toLowerCase(),
      recipient_domain: d.to.slice(d.to.lastIndexOf('@') + 1).toLowerCase(),
      subject: d.subject,
      tag: d.tag ?? null,
      source: d.source,
      size: d.size,
      status: 'accepted',
      held_reason: null,
      attempts: 0,
      last_reply: null,
      bounce_classification: null,
      opens: 0,
      clicks: 0,
      accepted_at: d.at,
      last_event_at: d.at,
      delivered_at: null,
      content_hash: d.contentHash,
      content_expired: false,
      direction: 'outgoing',
      spam_status: d.spamCheck?.spamStatus ?? null,
      spam_score: d.spamCheck?.spamScore ?? null,
    });
    count(d.serverId, d.at, 'accepted');
    return;
  }
  if (e.type === 'MessageImported') {
    messages.set(id, importedRow(id, e.data));
    return;
  }
  const m = messages.get(id);
  if (!m) throw new Error(`event ${r.eventId} (${r.type}) for message ${id}, which has no MessageAccepted before it`);
  m.last_event_at = e.data.at;
  const attempt = (d: DeliveryAttempt, outcome: string) => {
    m.attempts++;
    m.last_reply = replyText(d) ?? m.last_reply;
    deliveries.push({ message_id: id, attempt: d.attempt, outcome, d });
  };
  switch (e.type) {
    case 'MessageHeld':
      m.status = 'held';
      m.held_reason = e.data.detail ?? e.data.reason;
      count(m.server_id, e.data.at, 'held');
      return;
    case 'MessageReleased':
      m.status = 'released';
      m.held_reason = null;
      return;
    case 'MessageQueued':
      m.status = 'queued';
      return;
    case 'MessageDeferred':
      m.status = 'deferred';
      attempt(e.data.delivery, 'deferred');
      m.last_reply = m.last_reply ?? e.data.reason;
      count(m.server_id, e.data.at, 'deferred');
      return;
    case 'MessageDelivered':
      m.status = 'delivered';
      m.delivered_at = e.data.at;
      attempt(e.data.delivery, 'delivered');
      count(m.server_id, e.data.at, 'delivered');
      return;
    case 'MessageBounced':
      m.status = 'bounced';
      m.bounce_classification = e.data.classification;
      if (e.data.delivery) attempt(e.data.delivery, 'bounced');
      m.last_reply = e.data.diagnostic.slice(0, 1000);
      count(m.server_id, e.data.at, 'bounced');
      return;
    case 'MessageFailed':
      m.status = 'failed';
      m.last_reply = e.data.reason.slice(0, 1000);
      count(m.server_id, e.data.at, 'failed');
      return;
    case 'MessageCancelled':
      m.status = 'cancelled';
      count(m.server_id, e.data.at, 'cancelled');
      return;
    case 'MessageOpened':
      if (m.opens === 0) count(m.server_id, e.data.at, 'opened_unique');
      m.opens++;
      count(m.server_id, e.data.at, 'opened_total');
      return;
    case 'MessageLinkClicked':
      if (m.clicks === 0) count(m.server_id, e.data.at, 'clicked_unique');
      m.clicks++;
      count(m.server_id, e.data.at, 'clicked_total');
      return;
    case 'MessageUnsubscribed':
      count(m.server_id, e.data.at, 'unsubscribed');
      return;
    case 'MessageComplained':
      count(m.server_id, e.data.at, 'complained');
      return;
    case 'MessageAutoReplied':
      return;
    case 'MessageContentExpired':
      m.content_expired = true;
      return;
  }
}

/**
 * The row of a message imported from Postal: listed like the others (source postal-import), its
 * attempts and engagement as Postal counted them. Not counted in the daily statistics: Postlog did
 * not send it, and its counters would double what Postal's own statistics said.
 */
function importedRow(id: number, d: EventOf<'MessageImported'>['data']): MessageRow {
  const last = d.deliveries.at(-1);
  const lastReply = last ? (last.output ?? last.details ?? null) : null;
  return {
    message_id: id,
    server_id: d.serverId,
    batch_id: `postal-${d.origin.serverId}`,
    rfc_message_id: d.rfcMessageId ?? '',
    mail_from: d.from,
    rcpt_to: d.to.toLowerCase(),
    recipient_domain: d.to.slice(d.to.lastIndexOf('@') + 1).toLowerCase(),
    subject: d.subject,
    tag: d.tag ?? null,
    source: 'postal-import',
    size: d.size,
    status: d.status,
    held_reason: d.status === 'held' ? `held in Postal (${d.originStatus})` : null,
    attempts: d.deliveries.filter((x) => ATTEMPT_STATUSES.has(x.status)).length,
    last_reply: lastReply?.slice(0, 1000) ?? null,
    bounce_classification: null,
    opens: d.opens,
    clicks: d.clicks,
    accepted_at: d.acceptedAt,
    last_event_at: last?.at ?? d.acceptedAt,
    delivered_at: d.status === 'delivered' ? (d.deliveries.findLast((x) => x.status === 'Sent')?.at ?? null) : null,
    content_hash: d.contentHash ?? '',
    content_expired: d.contentHash === undefined,
    direction: d.direction,
    spam_status: null,
    spam_score: d.spamScore ?? null,
  };
}
