import { mailboxProvider, messageEventCodec, type DeliveryAttempt, type MessageEvent } from '../../domain/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';

/**
 * The analytics projections (Postgres tables in the embedded mode, ClickHouse at scale) store one
 * flat row per reported event, with the message's dimensions copied onto it, so every report is a
 * scan of one table. This file is the one place that decides what such a row holds: both adapters'
 * projections call `analyticsRowOf`.
 */

/** The event types the reports count (the log's names: the analytics tables store them as they are). */
export const ANALYTICS_EVENT_TYPES = [
  'MessageAccepted',
  'MessageDelivered',
  'MessageDeferred',
  'MessageBounced',
  'MessageFailed',
  'MessageOpened',
  'MessageLinkClicked',
] as const satisfies readonly MessageEvent['type'][];
export type AnalyticsEventType = (typeof ANALYTICS_EVENT_TYPES)[number];
const isReported = (type: string): type is AnalyticsEventType =>
  (ANALYTICS_EVENT_TYPES as readonly string[]).includes(type);
/**
 * Whether an event type matters to analytics at all: only these give rows or change a message's
 * dimensions, so the analytics projections read only them from the log (a filter by type).
 */
export const isAnalyticsEvent = isReported;

/**
 * What every event of a message is reported under. The first four come from MessageAccepted; the
 * mailbox provider and sending IP from the latest delivery attempt before (or at) the event, so an
 * open is counted under the provider that took the message. '' means "not known (yet)".
 */
export interface MessageDimensions {
  server_id: string;
  sending_domain: string;
  recipient_domain: string;
  tag: string;
  mailbox_provider: string;
  /** Our local address the delivery left from. */
  ip: string;
  /** When the message was accepted (ISO 8601): for the time from acceptance to each event. */
  accepted_at: string;
}

/** One row of the analytics events table; the keys are its column names. */
export interface AnalyticsRow extends MessageDimensions {
  /** The log's event id: the sink's idempotency key. */
  event_id: string;
  event_type: AnalyticsEventType;
  /** When it happened (the event's `at`), ISO 8601 in UTC with milliseconds. */
  event_time: string;
  message_id: string;
  bounce_classification: string;
  /** The clicked link. */
  url: string;
  /** An open or click by a machine (image proxy, link scanner), not a person. */
  machine: boolean;
  /** The log's global position. */
  position: number;
  /** The delivery attempt's SMTP reply code (0: none), its enhanced code, its number (0: not an attempt). */
  smtp_code: number;
  enhanced_code: string;
  attempt: number;
  /** Whole seconds from the message's acceptance to this event (time to deliver, to open…). */
  seconds_since_accepted: number;
}

/** The domain of an address, lower-cased ("Name <a@Example.org>" → example.org). */
export const domainOfAddress = (address: string): string =>
  address
    .slice(address.lastIndexOf('@') + 1)
    .replace(/[>\s]+$/, '')
    .toLowerCase();

/** "message-42" → "42". */
export const messageIdOfStream = (streamId: string): string => streamId.slice(streamId.indexOf('-') + 1);

// MX hosts are few and repeat for every delivery: the public-suffix lookup is remembered (a pure function)
const providers = new Map<string, string>();
function providerOf(mxHost: string): string {
  let p = providers.get(mxHost);
  if (p === undefined) {
    if (providers.size >= 10_000) providers.clear();
    providers.set(mxHost, (p = mailboxProvider(mxHost)));
  }
  return p;
}

function afterAttempt(dims: MessageDimensions, d: DeliveryAttempt | undefined): MessageDimensions {
  if (!d?.mxHost) return dims;
  return { ...dims, mailbox_provider: providerOf(d.mxHost), ip: d.localIp ?? dims.ip };
}

/** The dimensions after an event (pure; undefined until the message's MessageAccepted). */
export function evolveDimensions(
  before: MessageDimensions | undefined,
  e: MessageEvent,
): MessageDimensions | undefined {
  if (e.type === 'MessageAccepted') {
    return {
      server_id: e.data.serverId,
      sending_domain: domainOfAddress(e.data.from),
      recipient_domain: domainOfAddress(e.data.to),
      tag: e.data.tag ?? '',
      mailbox_provider: '',
      ip: '',
      accepted_at: new Date(e.data.at).toISOString(),
    };
  }
  if (!before) return undefined;
  switch (e.type) {
    case 'MessageDelivered':
    case 'MessageDeferred':
      return afterAttempt(before, e.data.delivery);
    case 'MessageBounced':
      return afterAttempt(before, e.data.delivery);
    default:
      return before;
  }
}

/** Decodes a recorded message event (upcasting old versions); throws on an unreadable one. */
export function decodeMessageEvent(r: RecordedEvent): MessageEvent {
  const decoded = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
  if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
  return decoded.value;
}

export interface Flattened {
  /** The message's dimensions after this event: keep them for its next event. */
  dimensions: MessageDimensions | undefined;
  /** The row to store, or null when the reports do not count this event type. */
  row: AnalyticsRow | null;
}

/**
 * THE flattening of a recorded message event into an analytics row, given the message's
 * dimensions before it (from the projection's lookup). Pure: the same event and dimensions always
 * give the same row, whichever adapter asks, on first delivery or on replay.
 */
export function analyticsRowOf(r: RecordedEvent, e: MessageEvent, before: MessageDimensions | undefined): Flattened {
  const dimensions = evolveDimensions(before, e);
  if (!isReported(e.type)) return { dimensions, row: null };
  if (!dimensions) throw new Error(`event ${r.eventId} (${r.type}) of ${r.streamId} has no MessageAccepted before it`);
  const hit = e.type === 'MessageOpened' || e.type === 'MessageLinkClicked' ? e.data : undefined;
  const attempt =
    e.type === 'MessageDelivered' || e.type === 'MessageDeferred' || e.type === 'MessageBounced'
      ? e.data.delivery
      : undefined;
  const at = new Date(e.data.at);
  return {
    dimensions,
    row: {
      event_id: r.eventId,
      event_type: e.type,
      event_time: at.toISOString(),
      message_id: messageIdOfStream(r.streamId),
      ...dimensions,
      bounce_classification: e.type === 'MessageBounced' ? e.data.classification : '',
      url: e.type === 'MessageLinkClicked' ? e.data.url : '',
      machine: hit?.machine ?? false,
      position: r.position,
      smtp_code: attempt?.reply?.code ?? 0,
      enhanced_code:
        (e.type === 'MessageBounced' ? e.data.enhancedCode : undefined) ?? attempt?.reply?.enhancedCode ?? '',
      attempt: attempt?.attempt ?? 0,
      seconds_since_accepted: Math.max(0, Math.floor((at.getTime() - Date.parse(dimensions.accepted_at)) / 1000)),
    },
  };
}
