import {
  BLOCKLIST_STREAM_PREFIX,
  blocklistEventCodec,
  blocklistWebhookPayload,
  DOMAIN_DNS_STREAM_PREFIX,
  deliveryId,
  INCOMING_STREAM_PREFIX,
  incomingEventCodec,
  incomingStreamId,
  incomingWebhookPayload,
  messageEventCodec,
  scanOf,
  SEND_LIMIT_STREAM_PREFIX,
  REPUTATION_STREAM_PREFIX,
  tenancyEventCodec,
  tenancyWebhookPayload,
  webhookFormatters,
  webhookPayload,
  type IncomingEvent,
  type IncomingScan,
  type MessageEvent,
  type MessageFacts,
  type WebhookEventName,
} from '../../domain/index.js';
import type { EventStore, RecordedEvent } from '../../infra/event-store/index.js';
import { loadServerFacts } from '../../infra/tenancy/index.js';
import {
  enabledEndpoints,
  insertOutboxRows,
  loadMessageFacts,
  saveMessageFacts,
  WEBHOOK_DELIVERIES,
  WEBHOOK_MESSAGES,
  type OutboxEndpoint,
  type OutboxRow,
} from '../../infra/webhooks/index.js';
import type pg from 'pg';
import type { PostgresProjection } from '../runner.js';

/** Event types that never become a webhook: their messages need not be looked up. */
const silent = new Set([
  'MessageQueued',
  'MessageReleased',
  'MessageContentExpired',
  'MessageRedeliveryRequested',
  // another system's history: its webhooks were that system's to send
  'MessageImported',
]);

const messageIdOf = (e: RecordedEvent) => Number(e.streamId.slice('message-'.length));
const isMessageEvent = (e: RecordedEvent) => e.streamId.startsWith('message-');

/** A webhook to queue for the endpoints of a server that ask for it. */
interface Hook {
  r: RecordedEvent;
  serverId: string;
  event: WebhookEventName;
  payload: Record<string, unknown>;
  /** The message it is about (null: a server's or a domain's event), for the formats that spell it out. */
  message: MessageFacts | null;
}

/**
 * The webhook outbox: for every message, send-limit or domain DNS event that is a webhook event, one row per matching
 * endpoint, written in the transaction that moves the checkpoint — so each (endpoint, event) enters
 * the outbox exactly once; the dispatcher sends it from there (at-least-once, with retries).
 *
 * Not a read model that can be rebuilt: a replay must not send history again. An endpoint receives
 * events recorded after it was created, and events older than `maxAgeHours` are never queued, so
 * a replay (a version change) re-creates nothing that was sent or given up.
 */
export function webhookOutboxProjection(options: {
  maxAgeHours: number;
  /** To find the verdict of a message whose IncomingScanned the batch ended before (see incomingHooks). */
  readStream?: EventStore['readStream'] | undefined;
}): PostgresProjection {
  return {
    name: 'webhook-outbox',
    version: 1,
    // server and domain events (send limits, DNS checks, the reputation guard) too: they have webhooks of their own
    filter: {
      streamPrefixes: [
        'message-',
        INCOMING_STREAM_PREFIX,
        SEND_LIMIT_STREAM_PREFIX,
        DOMAIN_DNS_STREAM_PREFIX,
        REPUTATION_STREAM_PREFIX,
        BLOCKLIST_STREAM_PREFIX,
      ],
    },
    tables: [WEBHOOK_MESSAGES, WEBHOOK_DELIVERIES],
    // a replay keeps what is there (see above): nothing is emptied
    async reset() {},
    async apply(client, all) {
      const events = all.filter(isMessageEvent);
      const decoded: { r: RecordedEvent; e: MessageEvent }[] = [];
      for (const r of events) {
        const d = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
        if (!d.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.error.code}`);
        decoded.push({ r, e: d.value });
      }
      const facts = new Map<number, MessageFacts & { serverId: string }>();
      for (const { r, e } of decoded) {
        if (e.type !== 'MessageAccepted') continue;
        facts.set(messageIdOf(r), {
          messageId: messageIdOf(r),
          serverId: e.data.serverId,
          token: e.data.token,
          rfcMessageId: e.data.rfcMessageId,
          from: e.data.from,
          to: e.data.to,
          subject: e.data.subject,
          tag: e.data.tag ?? null,
          metadata: e.data.metadata ?? null,
          acceptedAt: e.data.at,
          batchId: e.data.batchId,
          spamStatus: e.data.spamCheck?.spamStatus ?? null,
          spamScore: e.data.spamCheck?.spamScore ?? null,
        });
      }
      await saveMessageFacts(client, [...facts.values()]);
      // incoming messages' envelopes too, listened to or not: a later event of theirs may be
      const incoming = await saveIncomingFacts(client, all);

      const endpoints = await enabledEndpoints(client);
      if (endpoints.length === 0) return;
      const oldest = Date.now() - options.maxAgeHours * 3600_000;
      const candidates = decoded.filter(({ r, e }) => !silent.has(e.type) && r.recordedAt.getTime() >= oldest);
      const missing = [...new Set(candidates.map(({ r }) => messageIdOf(r)).filter((id) => !facts.has(id)))];
      for (const f of await loadMessageFacts(client, missing)) facts.set(f.messageId, f);

      const listened = new Set(endpoints.map((ep) => ep.serverId));
      const hooks: Hook[] = [];
      for (const { r, e } of candidates) {
        const m = facts.get(messageIdOf(r));
        if (!m) continue; // its MessageAccepted never reached this projection: nothing to say about it
        if (!listened.has(m.serverId)) continue; // no payload to build for a server nobody listens to
        const hook = webhookPayload(e, m);
        if (hook) hooks.push({ r, serverId: m.serverId, message: m, ...hook });
      }
      hooks.push(...(await tenancyHooks(client, all, oldest)));
      hooks.push(...(await blocklistHooks(client, all, oldest)));
      hooks.push(...(await incomingHooks(client, incoming, oldest, listened, all.at(-1), options.readStream)));
      await insertOutboxRows(client, outboxRows(hooks, endpoints));
    },
  };
}

/** The webhooks of send-limit and domain DNS events, with the server hash their payloads carry. */
async function tenancyHooks(client: pg.ClientBase, events: RecordedEvent[], oldest: number): Promise<Hook[]> {
  const recent = events.filter(
    (r) =>
      !isMessageEvent(r) &&
      !r.streamId.startsWith(INCOMING_STREAM_PREFIX) &&
      !r.streamId.startsWith(BLOCKLIST_STREAM_PREFIX) &&
      r.recordedAt.getTime() >= oldest,
  );
  if (recent.length === 0) return [];
  const decoded = recent.map((r) => {
    const d = tenancyEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (!d.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.error.code}`);
    return { r, e: d.value };
  });
  const servers = new Map(
    (await loadServerFacts(client, [...new Set(decoded.map(({ e }) => e.data.serverId))])).map((s) => [s.serverId, s]),
  );
  const hooks: Hook[] = [];
  for (const { r, e } of decoded) {
    const server = servers.get(e.data.serverId);
    if (!server) continue; // the server is gone, and its endpoints with it
    const domainId = r.streamId.startsWith(DOMAIN_DNS_STREAM_PREFIX)
      ? r.streamId.slice(DOMAIN_DNS_STREAM_PREFIX.length)
      : undefined;
    const hook = tenancyWebhookPayload(e, server, domainId);
    if (hook) hooks.push({ r, serverId: e.data.serverId, message: null, ...hook });
  }
  return hooks;
}

/** The webhooks of blocklist changes: one per server that sends from the IP or domain. */
async function blocklistHooks(client: pg.ClientBase, events: RecordedEvent[], oldest: number): Promise<Hook[]> {
  const recent = events.filter(
    (r) => r.streamId.startsWith(BLOCKLIST_STREAM_PREFIX) && r.recordedAt.getTime() >= oldest,
  );
  if (recent.length === 0) return [];
  const decoded = recent.map((r) => {
    const d = blocklistEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (!d.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.error.code}`);
    return { r, e: d.value };
  });
  const servers = new Map(
    (await loadServerFacts(client, [...new Set(decoded.flatMap(({ e }) => e.data.serverIds))])).map((s) => [
      s.serverId,
      s,
    ]),
  );
  const hooks: Hook[] = [];
  for (const { r, e } of decoded)
    for (const serverId of e.data.serverIds) {
      const server = servers.get(serverId);
      if (server) hooks.push({ r, serverId, message: null, ...blocklistWebhookPayload(e, server) });
    }
  return hooks;
}

interface IncomingBatch {
  decoded: { r: RecordedEvent; e: IncomingEvent }[];
  facts: Map<number, MessageFacts & { serverId: string }>;
  /** The verdicts (IncomingScanned) in the batch, by message. */
  scans: Map<number, IncomingScan>;
}
const incomingIdOf = (r: RecordedEvent) => Number(r.streamId.slice(INCOMING_STREAM_PREFIX.length));

/**
 * The batch's incoming messages, their envelopes kept with the outgoing messages' facts (the two
 * share one id space), so a later event (held, failed) finds them, as an outgoing message's do.
 */
async function saveIncomingFacts(client: pg.ClientBase, events: RecordedEvent[]): Promise<IncomingBatch> {
  const decoded = events
    .filter((r) => r.streamId.startsWith(INCOMING_STREAM_PREFIX))
    .map((r) => {
      const d = incomingEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!d.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${d.error.code}`);
      return { r, e: d.value };
    });
  const scans = new Map<number, IncomingScan>();
  for (const { r, e } of decoded) if (e.type === 'IncomingScanned') scans.set(incomingIdOf(r), e.data);
  const facts = new Map<number, MessageFacts & { serverId: string }>();
  for (const { r, e } of decoded) {
    if (e.type !== 'IncomingReceived') continue;
    const scan = scanOf(e.data, scans.get(incomingIdOf(r)));
    facts.set(incomingIdOf(r), {
      messageId: incomingIdOf(r),
      serverId: e.data.serverId,
      token: e.data.token,
      rfcMessageId: e.data.rfcMessageId,
      from: e.data.mailFrom,
      to: e.data.rcptTo,
      subject: e.data.subject,
      tag: null,
      metadata: null,
      acceptedAt: e.data.at,
      spamStatus: scan?.spamStatus ?? null,
      spamScore: scan?.spamScore ?? null,
    });
  }
  await saveMessageFacts(client, [...facts.values()]);
  return { decoded, facts, scans };
}

/**
 * The webhooks of incoming messages (incoming-payloads.ts). MessageReceived carries the verdict of
 * the IncomingScanned appended right after IncomingReceived: in the batch, unless the batch ended
 * between the two (IncomingReceived its last event); then it is read from the message's stream.
 */
async function incomingHooks(
  client: pg.ClientBase,
  batch: IncomingBatch,
  oldest: number,
  listened: Set<string>,
  last: RecordedEvent | undefined,
  readStream: EventStore['readStream'] | undefined,
): Promise<Hook[]> {
  const candidates = batch.decoded.filter(({ r }) => r.recordedAt.getTime() >= oldest);
  const missing = [...new Set(candidates.map(({ r }) => incomingIdOf(r)).filter((id) => !batch.facts.has(id)))];
  for (const f of await loadMessageFacts(client, missing)) batch.facts.set(f.messageId, f);
  const hooks: Hook[] = [];
  for (const { r, e } of candidates) {
    const m = batch.facts.get(incomingIdOf(r));
    if (!m || !listened.has(m.serverId)) continue;
    let scan = batch.scans.get(incomingIdOf(r));
    if (e.type === 'IncomingReceived' && !e.data.scan && !scan && r === last && readStream)
      scan = await scanAfterBatch(readStream, incomingIdOf(r));
    const hook = incomingWebhookPayload(e, m, scan);
    if (hook) hooks.push({ r, serverId: m.serverId, message: m, ...hook });
  }
  return hooks;
}

/** The IncomingScanned of a message, read from its stream (it is in the log: one append with IncomingReceived). */
async function scanAfterBatch(readStream: EventStore['readStream'], id: number): Promise<IncomingScan | undefined> {
  for (const r of await readStream(incomingStreamId(String(id)))) {
    if (r.type !== 'IncomingScanned') continue;
    const d = incomingEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (d.ok && d.value.type === 'IncomingScanned') return d.value.data;
  }
  return undefined;
}

/**
 * One outbox row per webhook and endpoint of its server that existed then and asks for the event,
 * its body in the endpoint's format; an event the format has no counterpart of is not queued.
 */
function outboxRows(hooks: Hook[], endpoints: OutboxEndpoint[]): OutboxRow[] {
  const byServer = new Map<string, OutboxEndpoint[]>();
  for (const ep of endpoints) byServer.set(ep.serverId, [...(byServer.get(ep.serverId) ?? []), ep]);
  const rows: OutboxRow[] = [];
  for (const { r, serverId, event, payload, message } of hooks) {
    for (const ep of byServer.get(serverId) ?? []) {
      if (ep.createdAt.getTime() > r.recordedAt.getTime()) continue;
      if (ep.events && !ep.events.includes(event)) continue;
      const id = deliveryId(ep.id, r.eventId);
      const body = webhookFormatters[ep.format]({
        event,
        payload,
        message,
        serverId,
        deliveryId: id,
        eventId: r.eventId,
        recordedAt: r.recordedAt,
      });
      if (body === undefined) continue;
      rows.push({ id, endpointId: ep.id, event: r, webhookEvent: event, body, format: ep.format });
    }
  }
  return rows;
}
