import { evolveIncoming, incomingEventCodec, incomingStreamId, initialIncomingState } from '../domain/index.js';
import type { EventStore } from '../infra/event-store/index.js';
import type { MessageView } from './message-view.js';

/**
 * An incoming message as the message API shows every message, folded from its stream: the From
 * header and the routed recipient, its status (routing, stored, held, bounced, rejected,
 * delivered, failed) and, under `incoming`, the envelope, authentication, scan and each endpoint.
 */
export async function loadIncomingView(store: EventStore, messageId: string): Promise<MessageView | undefined> {
  const recorded = await store.readStream(incomingStreamId(messageId));
  let state = initialIncomingState();
  let view: MessageView | undefined;
  for (const r of recorded) {
    const decoded = incomingEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (!decoded.ok) throw new Error(`message ${messageId}: event ${r.eventId} cannot be read (${decoded.error.code})`);
    const e = decoded.value;
    state = evolveIncoming(state, e);
    if (e.type === 'IncomingReceived') {
      const d = e.data;
      view = {
        id: d.messageId,
        direction: 'incoming',
        stream: incomingStreamId(d.messageId),
        spamStatus: d.scan?.spamStatus ?? null,
        spamScore: d.scan?.spamScore ?? null,
        serverId: d.serverId,
        batchId: `incoming-${d.messageId}`,
        token: d.token,
        rfcMessageId: d.rfcMessageId,
        from: d.from || d.mailFrom,
        to: d.rcptTo,
        subject: d.subject,
        tag: null,
        metadata: {},
        source: 'smtp',
        imported: null,
        contentHash: d.contentHash,
        size: d.size,
        status: 'routing',
        heldReason: null,
        scheduledAt: null,
        nextAttemptAt: null,
        attempts: 0,
        timestamps: { receivedAt: d.at },
        bounce: null,
        deliveries: [],
        opens: [],
        clicks: [],
        events: [],
        incoming: {
          routeId: d.routeId,
          bounceOf: d.bounceOf ?? null,
          mailFrom: d.mailFrom,
          clientIp: d.clientIp,
          helo: d.helo,
          tls: d.tls,
          authentication: d.authentication ?? null,
          scan: d.scan ?? null,
          endpoints: [],
        },
      };
    }
    if (!view) continue;
    view.status = state.status;
    switch (e.type) {
      // older messages carry the verdict inside IncomingReceived (above)
      case 'IncomingScanned':
        view.spamStatus = e.data.spamStatus;
        view.spamScore = e.data.spamScore ?? null;
        view.incoming!.scan = e.data;
        break;
      case 'IncomingHeld':
        view.heldReason = e.data.detail;
        view.timestamps.heldAt = e.data.at;
        break;
      case 'IncomingReleased':
        view.heldReason = null;
        view.timestamps.releasedAt = e.data.at;
        break;
      case 'IncomingRouted':
        view.timestamps.queuedAt = e.data.at;
        break;
      case 'EndpointAttempted': {
        view.attempts++;
        view.timestamps.lastAttemptAt = e.data.at;
        const endpoint = view.incoming!.endpoints.find((x) => x.endpointId === e.data.endpointId);
        if (endpoint) {
          endpoint.lastCode = e.data.code ?? null;
          endpoint.lastResponse = e.data.response;
          endpoint.lastAttemptAt = e.data.at;
        }
        view.nextAttemptAt = e.data.retryAt ?? null;
        break;
      }
      case 'IncomingDelivered':
        view.timestamps.deliveredAt = e.data.at;
        view.nextAttemptAt = null;
        break;
      case 'IncomingFailed':
        view.timestamps.failedAt = e.data.at;
        view.nextAttemptAt = null;
        break;
      case 'IncomingBounced':
      case 'IncomingRejected':
        view.timestamps.bouncedAt = e.data.at;
        break;
      default:
        break;
    }
    // endpoints as the state has them, with the last answers seen
    const known = new Map(view.incoming!.endpoints.map((x) => [x.endpointId, x]));
    view.incoming!.endpoints = [...state.endpoints].map(([endpointId, x]) => ({
      endpointId,
      kind: x.kind,
      target: x.target,
      status: x.status,
      attempts: x.attempts,
      lastCode: known.get(endpointId)?.lastCode ?? null,
      lastResponse: known.get(endpointId)?.lastResponse ?? null,
      lastAttemptAt: known.get(endpointId)?.lastAttemptAt ?? null,
    }));
  }
  if (view) view.events = recorded;
  return view;
}
