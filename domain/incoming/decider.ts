import { err, ok, type Result } from '../result.js';
import type { IncomingCommand } from './commands.js';
import type { IncomingEvent } from './events.js';
import type { IncomingState, IncomingStatus } from './state.js';

export type IncomingErrorCode =
  | 'MESSAGE_NOT_FOUND'
  | 'MESSAGE_ALREADY_EXISTS'
  | 'MESSAGE_NOT_HELD'
  | 'NOT_ROUTING'
  | 'UNKNOWN_ENDPOINT'
  | 'ENDPOINT_NOT_PENDING'
  | 'NOTHING_TO_RETRY'
  | 'MESSAGE_IN_FLIGHT'
  | 'CONTENT_EXPIRED';

export interface IncomingError {
  code: IncomingErrorCode;
  message: string;
  status: IncomingStatus;
}

type Decision = Result<IncomingEvent[], IncomingError>;
const fail = (code: IncomingErrorCode, state: IncomingState, message: string): Decision =>
  err({ code, message, status: state.status });

/** The event that carries a disposition out. */
function disposed(command: Extract<IncomingCommand, { type: 'Receive' }>): IncomingEvent {
  const { disposition: d, at } = command;
  switch (d.kind) {
    case 'route':
      return {
        type: 'IncomingRouted',
        data: {
          routeId: command.message.routeId,
          contentHash: command.message.contentHash,
          endpoints: d.endpoints,
          at,
        },
      };
    case 'store':
      return { type: 'IncomingStored', data: { at } };
    case 'hold':
      return { type: 'IncomingHeld', data: { reason: d.reason, detail: d.detail, at } };
    case 'bounce':
      return { type: 'IncomingBounced', data: { reply: d.reply, at } };
    case 'reject':
      return { type: 'IncomingRejected', data: { reason: d.reason, reply: d.reply, at } };
  }
}

/** decide(command, state) → events | error. Pure: no I/O, no clock (time comes in the command). */
export function decideIncoming(command: IncomingCommand, state: IncomingState): Decision {
  const at = command.at;
  switch (command.type) {
    case 'Receive':
      if (state.status !== 'none') return fail('MESSAGE_ALREADY_EXISTS', state, 'the message was received already');
      return ok([
        { type: 'IncomingReceived', data: { ...command.message, at } },
        ...(command.scan ? [{ type: 'IncomingScanned' as const, data: { ...command.scan, at } }] : []),
        disposed(command),
      ]);

    case 'RecordEndpointAttempt': {
      if (state.status === 'none') return fail('MESSAGE_NOT_FOUND', state, 'no such message');
      if (state.status !== 'routing')
        return fail('NOT_ROUTING', state, `an endpoint attempt needs a message being routed, not ${state.status}`);
      const endpoint = state.endpoints.get(command.endpointId);
      if (!endpoint) return fail('UNKNOWN_ENDPOINT', state, `endpoint ${command.endpointId} is not one of its own`);
      if (endpoint.status !== 'pending')
        return fail('ENDPOINT_NOT_PENDING', state, `endpoint ${command.endpointId} is ${endpoint.status} already`);
      const { type: _type, ...attempt } = command;
      const events: IncomingEvent[] = [
        { type: 'EndpointAttempted', data: { ...attempt, attempt: endpoint.attempts + 1 } },
      ];
      if (command.outcome === 'retry') return ok(events);
      // the message settles when its last pending endpoint settles: failed if any endpoint failed
      const others = [...state.endpoints].filter(([id]) => id !== command.endpointId).map(([, e]) => e);
      if (others.some((e) => e.status === 'pending')) return ok(events);
      const failed =
        command.outcome === 'failed'
          ? command.endpointId
          : [...state.endpoints].find(([id, e]) => id !== command.endpointId && e.status === 'failed')?.[0];
      events.push(
        failed === undefined
          ? { type: 'IncomingDelivered', data: { at } }
          : { type: 'IncomingFailed', data: { endpointId: failed, at } },
      );
      return ok(events);
    }

    case 'Release':
      if (state.status === 'none') return fail('MESSAGE_NOT_FOUND', state, 'no such message');
      if (state.contentExpired) return fail('CONTENT_EXPIRED', state, 'the body is gone (retention)');
      if (state.status !== 'held') return fail('MESSAGE_NOT_HELD', state, `the message is ${state.status}, not held`);
      return ok([
        { type: 'IncomingReleased', data: { at } },
        command.endpoints.length > 0
          ? {
              type: 'IncomingRouted',
              data: { routeId: state.routeId!, contentHash: state.contentHash!, endpoints: command.endpoints, at },
            }
          : { type: 'IncomingStored', data: { at } },
      ]);

    case 'ExpireContent':
      if (state.status === 'none') return fail('MESSAGE_NOT_FOUND', state, 'no such message');
      if (state.status === 'routing')
        return fail('MESSAGE_IN_FLIGHT', state, 'an endpoint has still to take the message');
      if (state.contentExpired) return ok([]);
      return ok([{ type: 'IncomingContentExpired', data: { retentionDays: command.retentionDays, at } }]);

    case 'Retry': {
      if (state.status === 'none') return fail('MESSAGE_NOT_FOUND', state, 'no such message');
      if (state.contentExpired) return fail('CONTENT_EXPIRED', state, 'the body is gone (retention)');
      if (state.status !== 'failed' && state.status !== 'delivered')
        return fail(
          'NOTHING_TO_RETRY',
          state,
          `only a failed or delivered message is handed over again, not ${state.status}`,
        );
      const failed = [...state.endpoints].filter(([, e]) => e.status === 'failed').map(([id]) => id);
      const endpointIds = failed.length > 0 ? failed : [...state.endpoints.keys()];
      if (endpointIds.length === 0) return fail('NOTHING_TO_RETRY', state, 'the message has no endpoints');
      return ok([{ type: 'EndpointRetryRequested', data: { endpointIds, at } }]);
    }
  }
}
