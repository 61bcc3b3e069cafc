import { incomingEventCodec } from '../../domain/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import type { MessageRow } from '../../infra/read-models/index.js';

/**
 * An incoming message's row in the message list (direction incoming): its envelope, status
 * (routing, stored, held, bounced, rejected, delivered, failed), the endpoints' attempts and last
 * answer, and the scanners' verdict (its IncomingScanned, or inside IncomingReceived for older
 * events). Incoming mail adds nothing to the sending statistics.
 */
export function foldIncoming(messages: Map<number, MessageRow>, id: number, r: RecordedEvent): void {
  const decoded = incomingEventCodec.decode(r.type, r.schemaVersion, r.data);
  if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
  const e = decoded.value;
  if (e.type === 'IncomingReceived') {
    const d = e.data;
    messages.set(id, {
      message_id: id,
      server_id: d.serverId,
      batch_id: `incoming-${id}`,
      rfc_message_id: d.rfcMessageId,
      mail_from: d.mailFrom,
      rcpt_to: d.rcptTo.toLowerCase(),
      recipient_domain: d.rcptTo.slice(d.rcptTo.lastIndexOf('@') + 1).toLowerCase(),
      subject: d.subject,
      tag: null,
      source: 'smtp',
      size: d.size,
      status: 'routing',
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
      direction: 'incoming',
      spam_status: d.scan?.spamStatus ?? null,
      spam_score: d.scan?.spamScore ?? null,
    });
    return;
  }
  const m = messages.get(id);
  if (!m) throw new Error(`event ${r.eventId} (${r.type}) for message ${id}, which has no IncomingReceived before it`);
  m.last_event_at = e.data.at;
  switch (e.type) {
    case 'IncomingRouted':
    case 'IncomingReleased':
    case 'EndpointRetryRequested':
      m.status = 'routing';
      m.held_reason = null;
      return;
    case 'IncomingScanned':
      m.spam_status = e.data.spamStatus;
      m.spam_score = e.data.spamScore ?? null;
      return;
    case 'IncomingStored':
      m.status = 'stored';
      return;
    case 'IncomingHeld':
      m.status = 'held';
      m.held_reason = e.data.detail;
      return;
    case 'IncomingBounced':
      m.status = 'bounced';
      m.last_reply = e.data.reply;
      return;
    case 'IncomingRejected':
      m.status = 'rejected';
      m.last_reply = e.data.reply;
      return;
    case 'EndpointAttempted':
      m.attempts++;
      m.last_reply = `${e.data.code ?? '-'} ${e.data.response}`.slice(0, 1000);
      return;
    case 'IncomingDelivered':
      m.status = 'delivered';
      m.delivered_at = e.data.at;
      return;
    case 'IncomingFailed':
      m.status = 'failed';
      return;
    case 'IncomingContentExpired':
      m.content_expired = true;
      return;
  }
}
