import type pg from 'pg';
import { messageEventCodec, type DeliveryAttempt, type MessageEvent } from '../../domain/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import type { PostgresProjection, TableNames } from '../runner.js';

/** One rm_messages row, as the projection keeps it in memory while folding a batch. */
interface MessageRow {
  message_id: number;
  server_id: string;
  batch_id: string;
  rfc_message_id: string;
  mail_from: string;
  rcpt_to: string;
  recipient_domain: string;
  subject: string;
  tag: string | null;
  source: string;
  size: number;
  status: string;
  held_reason: string | null;
  attempts: number;
  last_reply: string | null;
  bounce_classification: string | null;
  opens: number;
  clicks: number;
  accepted_at: string;
  last_event_at: string;
  delivered_at: string | null;
  content_hash: string;
  content_expired: boolean;
}

const COLUMNS: (keyof MessageRow)[] = [
  'message_id',
  'server_id',
  'batch_id',
  'rfc_message_id',
  'mail_from',
  'rcpt_to',
  'recipient_domain',
  'subject',
  'tag',
  'source',
  'size',
  'status',
  'held_reason',
  'attempts',
  'last_reply',
  'bounce_classification',
  'opens',
  'clicks',
  'accepted_at',
  'last_event_at',
  'delivered_at',
  'content_hash',
  'content_expired',
];
const TYPES: Record<keyof MessageRow, string> = {
  message_id: 'bigint',
  server_id: 'uuid',
  batch_id: 'text',
  rfc_message_id: 'text',
  mail_from: 'text',
  rcpt_to: 'text',
  recipient_domain: 'text',
  subject: 'text',
  tag: 'text',
  source: 'text',
  size: 'int',
  status: 'text',
  held_reason: 'text',
  attempts: 'int',
  last_reply: 'text',
  bounce_classification: 'text',
  opens: 'int',
  clicks: 'int',
  accepted_at: 'timestamptz',
  last_event_at: 'timestamptz',
  delivered_at: 'timestamptz',
  content_hash: 'text',
  content_expired: 'boolean',
};

const STAT_COLUMNS = [
  'accepted',
  'held',
  'delivered',
  'deferred',
  'bounced',
  'failed',
  'cancelled',
  'opened_total',
  'opened_unique',
  'clicked_total',
  'clicked_unique',
  'complained',
  'unsubscribed',
] as const;
type Stat = (typeof STAT_COLUMNS)[number];

interface DeliveryRow {
  message_id: number;
  attempt: number;
  outcome: string;
  d: DeliveryAttempt;
}

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
  filter: { streamPrefixes: ['message-'] },
  tables: ['rm_messages', 'rm_deliveries', 'rm_daily_stats'],
  async reset(client, t) {
    for (const table of this.tables) await client.query(`DELETE FROM ${t(table)}`);
  },
  async apply(client, events, t) {
    const ids = [...new Set(events.map((e) => Number(e.streamId.slice('message-'.length))))];
    const { rows } = await client.query<MessageRow>(
      `SELECT ${COLUMNS.map((c) => (TYPES[c] === 'timestamptz' ? `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${c}` : c)).join(', ')}
         FROM ${t('rm_messages')} WHERE message_id = ANY($1::bigint[])`,
      [ids],
    );
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
      const decoded = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
      fold(messages, deliveries, count, Number(r.streamId.slice('message-'.length)), decoded.value, r);
    }
    await write(client, t, [...messages.values()], deliveries, stats);
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
    });
    count(d.serverId, d.at, 'accepted');
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

async function write(
  client: pg.PoolClient,
  t: TableNames,
  messages: MessageRow[],
  deliveries: DeliveryRow[],
  stats: Map<string, Record<Stat, number>>,
): Promise<void> {
  if (messages.length > 0) {
    await client.query(
      `INSERT INTO ${t('rm_messages')} (${COLUMNS.join(', ')})
       SELECT * FROM unnest(${COLUMNS.map((c, i) => `$${i + 1}::${TYPES[c]}[]`).join(', ')})
       ON CONFLICT (message_id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'message_id')
         .map((c) => `${c} = excluded.${c}`)
         .join(', ')}`,
      COLUMNS.map((c) => messages.map((m) => m[c])),
    );
  }
  if (deliveries.length > 0) {
    // one row per attempt: if an attempt was recorded twice, the last record stands
    deliveries = [...new Map(deliveries.map((d) => [`${d.message_id}:${d.attempt}`, d])).values()];
    const col = <T>(f: (r: DeliveryRow) => T) => deliveries.map(f);
    await client.query(
      `INSERT INTO ${t('rm_deliveries')} (message_id, attempt, outcome, at, mx_host, remote_ip, local_ip, tls_protocol, tls_cipher, smtp_code, enhanced_code, smtp_text, duration_ms)
       SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::text[], $12::text[], $13::int[])
       ON CONFLICT (message_id, attempt) DO UPDATE SET outcome = excluded.outcome`,
      [
        col((r) => r.message_id),
        col((r) => r.attempt),
        col((r) => r.outcome),
        col((r) => r.d.at),
        col((r) => r.d.mxHost ?? null),
        col((r) => r.d.remoteIp ?? null),
        col((r) => r.d.localIp ?? null),
        col((r) => r.d.tls?.protocol ?? null),
        col((r) => r.d.tls?.cipher ?? null),
        col((r) => r.d.reply?.code ?? null),
        col((r) => r.d.reply?.enhancedCode ?? null),
        col((r) => r.d.reply?.text ?? null),
        col((r) => Math.round(r.d.durationMs)),
      ],
    );
  }
  if (stats.size > 0) {
    const keys = [...stats.keys()];
    await client.query(
      `INSERT INTO ${t('rm_daily_stats')} (server_id, day, ${STAT_COLUMNS.join(', ')})
       SELECT * FROM unnest($1::uuid[], $2::date[], ${STAT_COLUMNS.map((_, i) => `$${i + 3}::int[]`).join(', ')})
       ON CONFLICT (server_id, day) DO UPDATE SET ${STAT_COLUMNS.map((c) => `${c} = ${t('rm_daily_stats')}.${c} + excluded.${c}`).join(', ')}`,
      [
        keys.map((k) => k.split('|')[0]),
        keys.map((k) => k.split('|')[1]),
        ...STAT_COLUMNS.map((c) => keys.map((k) => stats.get(k)![c])),
      ],
    );
  }
}
