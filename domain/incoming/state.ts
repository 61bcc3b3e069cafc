import type { EndpointKind, IncomingEvent } from './events.js';

export type IncomingStatus = 'none' | 'routing' | 'stored' | 'held' | 'bounced' | 'rejected' | 'delivered' | 'failed';

export interface EndpointState {
  kind: EndpointKind;
  target: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
}

export interface IncomingState {
  status: IncomingStatus;
  serverId?: string;
  routeId?: string;
  contentHash?: string;
  contentExpired?: boolean;
  /** Endpoints of the current routing, by id, in order. */
  endpoints: Map<string, EndpointState>;
}

export const initialIncomingState = (): IncomingState => ({ status: 'none', endpoints: new Map() });

export function evolveIncoming(state: IncomingState, event: IncomingEvent): IncomingState {
  switch (event.type) {
    case 'IncomingReceived':
      return {
        ...state,
        status: 'routing',
        serverId: event.data.serverId,
        routeId: event.data.routeId,
        contentHash: event.data.contentHash,
      };
    case 'IncomingScanned':
      // the verdict decided the disposition, which follows as its own event
      return state;
    case 'IncomingRouted':
      return {
        ...state,
        status: 'routing',
        endpoints: new Map(
          event.data.endpoints.map((e) => [
            e.endpointId,
            { kind: e.kind, target: e.target, status: 'pending' as const, attempts: 0 },
          ]),
        ),
      };
    case 'IncomingStored':
      return { ...state, status: 'stored' };
    case 'IncomingHeld':
      return { ...state, status: 'held' };
    case 'IncomingBounced':
      return { ...state, status: 'bounced' };
    case 'IncomingRejected':
      return { ...state, status: 'rejected' };
    case 'IncomingReleased':
      return { ...state, status: 'routing' };
    case 'EndpointAttempted': {
      const current = state.endpoints.get(event.data.endpointId);
      if (!current) return state;
      const endpoints = new Map(state.endpoints);
      endpoints.set(event.data.endpointId, {
        ...current,
        attempts: current.attempts + 1,
        status:
          event.data.outcome === 'delivered' ? 'delivered' : event.data.outcome === 'failed' ? 'failed' : 'pending',
      });
      return { ...state, endpoints };
    }
    case 'IncomingContentExpired':
      return { ...state, contentExpired: true };
    case 'IncomingDelivered':
      return { ...state, status: 'delivered' };
    case 'IncomingFailed':
      return { ...state, status: 'failed' };
    case 'EndpointRetryRequested': {
      const endpoints = new Map(state.endpoints);
      for (const id of event.data.endpointIds) {
        const e = endpoints.get(id);
        if (e) endpoints.set(id, { ...e, status: 'pending' });
      }
      return { ...state, status: 'routing', endpoints };
    }
  }
}
