import { messageEventCodec } from '../../domain/index.js';
import {
  addReputationCounts,
  emptyReputationTables,
  REPUTATION_COUNTS,
  REPUTATION_SENDERS,
  reputationSendersOf,
  saveReputationSenders,
  type ReputationCountRow,
  type ReputationSender,
} from '../../infra/reputation/index.js';
import { domainOfAddress, messageIdOfStream } from '../analytics/analytics-row.js';
import type { PostgresProjection } from '../runner.js';

const COUNTED = ['MessageAccepted', 'MessageDelivered', 'MessageBounced', 'MessageComplained'];

/**
 * The reputation guard's counts (write-side/reputation/ reads them): per server, sending domain and
 * minute of the event's `at`, messages delivered, bounced, hard-bounced (the recipient is suppressed)
 * and complained about. MessageAccepted gives each message's server and From domain, which its later
 * events lack. A redelivered message delivered twice counts twice: each delivery can draw a complaint.
 */
export const reputationProjection: PostgresProjection = {
  name: 'reputation',
  version: 1,
  filter: { streamPrefixes: ['message-'], types: COUNTED },
  tables: [REPUTATION_COUNTS, REPUTATION_SENDERS],
  async reset(client, t) {
    await emptyReputationTables(client, this.tables.map(t));
  },
  async apply(client, events, t) {
    const senders = new Map<string, ReputationSender>();
    for (const r of events) {
      if (r.type !== 'MessageAccepted') continue;
      const d = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!d.ok || d.value.type !== 'MessageAccepted')
        throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.ok ? r.type : d.error.code}`);
      const id = messageIdOfStream(r.streamId);
      senders.set(id, {
        messageId: id,
        serverId: d.value.data.serverId,
        sendingDomain: domainOfAddress(d.value.data.from),
      });
    }
    await saveReputationSenders(client, t(REPUTATION_SENDERS), [...senders.values()]);
    const later = events.filter((r) => r.type !== 'MessageAccepted');
    const missing = [...new Set(later.map((r) => messageIdOfStream(r.streamId)).filter((id) => !senders.has(id)))];
    for (const [id, s] of await reputationSendersOf(client, t(REPUTATION_SENDERS), missing)) senders.set(id, s);

    const counts = new Map<string, ReputationCountRow>();
    for (const r of later) {
      const sender = senders.get(messageIdOfStream(r.streamId));
      if (!sender) continue; // an imported message, or one whose MessageAccepted this projection never saw
      const d = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!d.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.error.code}`);
      const e = d.value;
      const minute = new Date(Math.floor(Date.parse(e.data.at) / 60_000) * 60_000).toISOString();
      const key = `${sender.serverId}|${sender.sendingDomain}|${minute}`;
      const c = counts.get(key) ?? {
        serverId: sender.serverId,
        sendingDomain: sender.sendingDomain,
        minute,
        delivered: 0,
        bounced: 0,
        hardBounces: 0,
        complaints: 0,
      };
      counts.set(key, c);
      if (e.type === 'MessageDelivered') c.delivered++;
      else if (e.type === 'MessageComplained') c.complaints++;
      else if (e.type === 'MessageBounced') {
        c.bounced++;
        if (e.data.suppress) c.hardBounces++;
      }
    }
    await addReputationCounts(client, t(REPUTATION_COUNTS), [...counts.values()]);
  },
};
