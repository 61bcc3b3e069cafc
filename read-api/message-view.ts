import {
  evolve,
  initialState,
  messageEventCodec,
  messageStreamId,
  type AppliedTlsPolicy,
  type AuthenticationResults,
  type MessageEvent,
  type ScanResult,
  type IncomingStatus,
  type MessageStatus,
} from '../domain/index.js';
import type { EventStore, RecordedEvent } from '../infra/event-store/index.js';
import { loadIncomingView } from './incoming-view.js';

export interface DeliveryView {
  attempt: number;
  outcome: 'delivered' | 'deferred' | 'bounced';
  at: string;
  mxHost: string | null;
  remoteIp: string | null;
  localIp: string | null;
  tls: { protocol: string; cipher: string } | null;
  /** The TLS policy the attempt went out under, and what failed of it (older events lack it: null). */
  tlsPolicy: AppliedTlsPolicy | null;
  smtpCode: number | null;
  enhancedCode: string | null;
  smtpText: string | null;
  durationMs: number;
  detail: string;
}

/** What an incoming message (mail for a route) has besides the fields every message has. */
export interface IncomingView {
  /** Empty for a bounce of the server's own mail (no route took it). */
  routeId: string;
  /** A bounce kept at the return path: the outgoing message it reports. */
  bounceOf: string | null;
  mailFrom: string;
  clientIp: string;
  helo: string;
  tls: boolean;
  authentication: AuthenticationResults | null;
  scan: ScanResult | null;
  endpoints: {
    endpointId: string;
    kind: string;
    target: string;
    status: 'pending' | 'delivered' | 'failed';
    attempts: number;
    lastCode: number | null;
    lastResponse: string | null;
    lastAttemptAt: string | null;
  }[];
}

export interface ImportedView {
  system: 'postal';
  /** Postal's server and message ids. */
  serverId: number;
  messageId: number;
  /** Postal's status, verbatim. */
  status: string;
  /** Opens and clicks Postal counted (the hits themselves were not imported). */
  opens: number;
  clicks: number;
  importedAt: string;
}

export interface MessageView {
  id: string;
  direction: 'outgoing' | 'incoming';
  /** The stream of its events in the log. */
  stream: string;
  incoming: IncomingView | null;
  /** The scanners' verdict (Postal's spam_status and score); null: not checked. */
  spamStatus: string | null;
  spamScore: number | null;
  serverId: string;
  batchId: string;
  token: string;
  rfcMessageId: string;
  from: string;
  to: string;
  subject: string;
  tag: string | null;
  metadata: Record<string, string>;
  /** postal-import: a message of Postal's history (`postlog import postal --messages-days`). */
  source: 'api' | 'smtp' | 'postal-import';
  /** What the system it was imported from knew that has no other place here; null: Postlog's own. */
  imported: ImportedView | null;
  contentHash: string;
  size: number;
  status: MessageStatus | IncomingStatus;
  heldReason: string | null;
  scheduledAt: string | null;
  nextAttemptAt: string | null;
  attempts: number;
  timestamps: Partial<
    Record<
      | 'acceptedAt'
      | 'receivedAt'
      | 'queuedAt'
      | 'heldAt'
      | 'releasedAt'
      | 'lastAttemptAt'
      | 'deliveredAt'
      | 'bouncedAt'
      | 'failedAt'
      | 'cancelledAt',
      string
    >
  >;
  bounce: { classification: string; diagnostic: string; enhancedCode: string | null; kind: 'sync' | 'async' } | null;
  deliveries: DeliveryView[];
  opens: { at: string; ip: string | null; userAgent: string | null; machine: boolean }[];
  clicks: { at: string; url: string; ip: string | null; userAgent: string | null; machine: boolean }[];
  events: RecordedEvent[];
}

/** One message, folded from its stream in the log (not a read model: always current). */
export async function loadMessageView(store: EventStore, messageId: string): Promise<MessageView | undefined> {
  if (!/^\d{1,18}$/.test(messageId)) return undefined;
  const recorded = await store.readStream(messageStreamId(messageId));
  // ids are shared: a number with no outgoing stream may be an incoming message
  if (recorded.length === 0) return loadIncomingView(store, messageId);
  let state = initialState();
  let view: MessageView | undefined;
  for (const r of recorded) {
    const decoded = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (!decoded.ok) throw new Error(`message ${messageId}: event ${r.eventId} cannot be read (${decoded.error.code})`);
    const e: MessageEvent = decoded.value;
    state = evolve(state, e);
    if (e.type === 'MessageAccepted') {
      const d = e.data;
      view = {
        id: d.messageId,
        direction: 'outgoing',
        stream: messageStreamId(d.messageId),
        incoming: null,
        spamStatus: d.spamCheck?.spamStatus ?? null,
        spamScore: d.spamCheck?.spamScore ?? null,
        serverId: d.serverId,
        batchId: d.batchId,
        token: d.token,
        rfcMessageId: d.rfcMessageId,
        from: d.from,
        to: d.to,
        subject: d.subject,
        tag: d.tag ?? null,
        metadata: d.metadata ?? {},
        source: d.source,
        imported: null,
        contentHash: d.contentHash,
        size: d.size,
        status: 'accepted',
        heldReason: null,
        scheduledAt: d.scheduledAt ?? null,
        nextAttemptAt: null,
        attempts: 0,
        timestamps: { acceptedAt: d.at },
        bounce: null,
        deliveries: [],
        opens: [],
        clicks: [],
        events: [],
      };
    }
    if (e.type === 'MessageImported') view = importedView(e.data);
    if (!view) continue;
    view.status = state.status;
    view.attempts = state.attempts;
    switch (e.type) {
      case 'MessageHeld':
        view.heldReason = e.data.detail ?? e.data.reason;
        view.timestamps.heldAt = e.data.at;
        break;
      case 'MessageReleased':
        view.heldReason = null;
        view.timestamps.releasedAt = e.data.at;
        break;
      case 'MessageQueued':
        view.timestamps.queuedAt = e.data.at;
        view.nextAttemptAt = e.data.dueAt;
        break;
      case 'MessageDeferred':
        view.deliveries.push(deliveryView('deferred', e.data.delivery, e.data.reason));
        view.timestamps.lastAttemptAt = e.data.delivery.at;
        view.nextAttemptAt = e.data.nextAttemptAt;
        break;
      case 'MessageDelivered':
        view.deliveries.push(
          deliveryView('delivered', e.data.delivery, `accepted by ${e.data.delivery.mxHost ?? 'the remote server'}`),
        );
        view.timestamps.lastAttemptAt = e.data.delivery.at;
        view.timestamps.deliveredAt = e.data.at;
        view.nextAttemptAt = null;
        break;
      case 'MessageBounced':
        if (e.data.delivery) {
          view.deliveries.push(deliveryView('bounced', e.data.delivery, e.data.diagnostic));
          view.timestamps.lastAttemptAt = e.data.delivery.at;
        }
        view.timestamps.bouncedAt = e.data.at;
        view.bounce = {
          classification: e.data.classification,
          diagnostic: e.data.diagnostic,
          enhancedCode: e.data.enhancedCode ?? null,
          kind: e.data.kind,
        };
        view.nextAttemptAt = null;
        break;
      case 'MessageFailed':
        view.timestamps.failedAt = e.data.at;
        view.nextAttemptAt = null;
        break;
      case 'MessageCancelled':
        view.timestamps.cancelledAt = e.data.at;
        view.nextAttemptAt = null;
        break;
      case 'MessageOpened':
        view.opens.push({
          at: e.data.at,
          ip: e.data.ip ?? null,
          userAgent: e.data.userAgent ?? null,
          machine: e.data.machine,
        });
        break;
      case 'MessageLinkClicked':
        view.clicks.push({
          at: e.data.at,
          url: e.data.url,
          ip: e.data.ip ?? null,
          userAgent: e.data.userAgent ?? null,
          machine: e.data.machine,
        });
        break;
      default:
        break;
    }
  }
  if (view) view.events = recorded;
  return view;
}

/** Postal's delivery statuses that were attempts, as the outcomes a delivery view has. */
const IMPORTED_OUTCOMES: Record<string, DeliveryView['outcome']> = {
  Sent: 'delivered',
  SoftFail: 'deferred',
  HardFail: 'bounced',
  Bounced: 'bounced',
};

/** A message imported from Postal, as Postal knew it: its attempts, timestamps and counts. */
function importedView(d: Extract<MessageEvent, { type: 'MessageImported' }>['data']): MessageView {
  const attempts = d.deliveries.filter((x) => IMPORTED_OUTCOMES[x.status] !== undefined);
  const lastAttempt = attempts.at(-1);
  const lastOf = (status: string) => d.deliveries.findLast((x) => x.status === status)?.at;
  const finalAt = d.deliveries.at(-1)?.at ?? d.acceptedAt;
  const timestamps: MessageView['timestamps'] = {
    [d.direction === 'incoming' ? 'receivedAt' : 'acceptedAt']: d.acceptedAt,
    ...(lastAttempt ? { lastAttemptAt: lastAttempt.at } : {}),
    ...(d.status === 'delivered' ? { deliveredAt: lastOf('Sent') ?? lastOf('Processed') ?? finalAt } : {}),
    ...(d.status === 'bounced' ? { bouncedAt: finalAt } : {}),
    ...(d.status === 'failed' ? { failedAt: finalAt } : {}),
    ...(d.status === 'held' ? { heldAt: lastOf('Held') ?? finalAt } : {}),
    ...(d.status === 'cancelled' ? { cancelledAt: finalAt } : {}),
  };
  return {
    id: d.messageId,
    direction: d.direction,
    stream: messageStreamId(d.messageId),
    incoming: null,
    spamStatus: null,
    spamScore: d.spamScore ?? null,
    serverId: d.serverId,
    batchId: `postal-${d.origin.serverId}`,
    token: d.token ?? '',
    rfcMessageId: d.rfcMessageId ?? '',
    from: d.from,
    to: d.to,
    subject: d.subject,
    tag: d.tag ?? null,
    metadata: {},
    source: 'postal-import',
    imported: {
      system: 'postal',
      serverId: d.origin.serverId,
      messageId: d.origin.messageId,
      status: d.originStatus,
      opens: d.opens,
      clicks: d.clicks,
      importedAt: d.at,
    },
    contentHash: d.contentHash ?? '',
    size: d.size,
    status: d.status,
    heldReason: d.status === 'held' ? `held in Postal (${d.originStatus})` : null,
    scheduledAt: null,
    nextAttemptAt: null,
    attempts: attempts.length,
    timestamps,
    bounce: null,
    deliveries: attempts.map((x, i) => ({
      attempt: i + 1,
      outcome: IMPORTED_OUTCOMES[x.status]!,
      at: x.at,
      mxHost: null,
      remoteIp: null,
      localIp: null,
      tls: null,
      tlsPolicy: null,
      smtpCode: x.code !== undefined && x.code >= 200 && x.code <= 599 ? x.code : null,
      enhancedCode: null,
      smtpText: x.output ?? null,
      durationMs: x.durationMs ?? 0,
      detail: x.details ?? x.output ?? x.status,
    })),
    opens: [],
    clicks: [],
    events: [],
  };
}

function deliveryView(
  outcome: DeliveryView['outcome'],
  d: Extract<MessageEvent, { type: 'MessageDelivered' }>['data']['delivery'],
  detail: string,
): DeliveryView {
  return {
    attempt: d.attempt,
    outcome,
    at: d.at,
    mxHost: d.mxHost ?? null,
    remoteIp: d.remoteIp ?? null,
    localIp: d.localIp ?? null,
    tls: d.tls ?? null,
    tlsPolicy: d.tlsPolicy ?? null,
    smtpCode: d.reply?.code ?? null,
    enhancedCode: d.reply?.enhancedCode ?? null,
    smtpText: d.reply?.text ?? null,
    durationMs: d.durationMs,
    detail,
  };
}
