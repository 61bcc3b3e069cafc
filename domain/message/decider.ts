import { err, ok, type Result } from '../result.js';
import type { MessageCommand } from './commands.js';
import type { MessageEvent } from './events.js';
import { finalStatuses, initialState, type MessageState, type MessageStatus } from './state.js';

export type MessageErrorCode =
  | 'MESSAGE_NOT_FOUND'
  | 'MESSAGE_ALREADY_EXISTS'
  | 'MESSAGE_ALREADY_FINAL'
  | 'MESSAGE_HELD'
  | 'MESSAGE_NOT_HELD'
  | 'MESSAGE_NOT_QUEUED'
  | 'MESSAGE_NOT_DELIVERED'
  | 'MESSAGE_IN_FLIGHT'
  | 'RELEASE_NOT_ALLOWED'
  | 'MESSAGE_NOT_REDELIVERABLE'
  | 'CONTENT_EXPIRED';

export interface MessageError {
  code: MessageErrorCode;
  message: string;
  status: MessageStatus;
}

type Decision = Result<MessageEvent[], MessageError>;

const fail = (code: MessageErrorCode, state: MessageState, message: string): Decision =>
  err({ code, message, status: state.status });

/** Statuses from which an SMTP attempt can be in progress, so its outcome can be recorded. */
const inFlight: ReadonlySet<MessageStatus> = new Set(['queued', 'deferred']);

/** Outcomes after which a message may be sent again (a cancelled one was never meant to go). */
const redeliverable: ReadonlySet<MessageStatus> = new Set(['delivered', 'failed', 'bounced']);

/** Postal's delivery statuses that were an attempt to hand the message over (not a hold, not a note). */
export const ATTEMPT_STATUSES: ReadonlySet<string> = new Set(['Sent', 'SoftFail', 'HardFail', 'Bounced']);

/** Common guard for commands that need a live (existing, non-final) message. */
function guardLive(state: MessageState): Decision | undefined {
  if (state.status === 'none') return fail('MESSAGE_NOT_FOUND', state, 'no such message');
  if (finalStatuses.has(state.status))
    return fail('MESSAGE_ALREADY_FINAL', state, `the message is already ${state.status}`);
  return undefined;
}

function guardAttemptOutcome(state: MessageState): Decision | undefined {
  const live = guardLive(state);
  if (live) return live;
  if (state.status === 'held') return fail('MESSAGE_HELD', state, 'the message is held; release it first');
  if (!inFlight.has(state.status))
    return fail('MESSAGE_NOT_QUEUED', state, `a delivery outcome needs a queued message, not ${state.status}`);
  return undefined;
}

function guardEngagement(state: MessageState): Decision | undefined {
  if (state.status === 'none') return fail('MESSAGE_NOT_FOUND', state, 'no such message');
  if (!state.delivered) return fail('MESSAGE_NOT_DELIVERED', state, 'engagement can only follow a delivery');
  return undefined;
}

/** decide(command, state) → events | error. Pure: no I/O, no clock. */
export function decide(command: MessageCommand, state: MessageState): Decision {
  const at = command.at;
  // an imported message's history is another system's: only retention may still remove its body
  if (state.imported && command.type !== 'ExpireContent' && command.type !== 'Import')
    return fail('MESSAGE_ALREADY_FINAL', state, 'the message was imported from Postal: its history is read-only');
  switch (command.type) {
    case 'Import': {
      if (state.status !== 'none') return fail('MESSAGE_ALREADY_EXISTS', state, 'the message exists already');
      return ok([{ type: 'MessageImported', data: { ...command.message, at } }]);
    }
    case 'Accept': {
      if (state.status !== 'none') return fail('MESSAGE_ALREADY_EXISTS', state, 'the message was already accepted');
      const accepted: MessageEvent = { type: 'MessageAccepted', data: { ...command.message, at } };
      if (command.hold) return ok([accepted, { type: 'MessageHeld', data: { ...command.hold, at } }]);
      const dueAt = command.message.scheduledAt ?? at;
      return ok([accepted, { type: 'MessageQueued', data: { dueAt, at } }]);
    }
    case 'Hold': {
      const guard = guardLive(state);
      if (guard) return guard;
      if (state.status === 'held') return fail('MESSAGE_HELD', state, 'the message is already held');
      return ok([
        {
          type: 'MessageHeld',
          data: { reason: command.reason, ...(command.detail ? { detail: command.detail } : {}), at },
        },
      ]);
    }
    case 'Release': {
      const guard = guardLive(state);
      if (guard) return guard;
      if (state.status !== 'held') return fail('MESSAGE_NOT_HELD', state, 'only a held message can be released');
      // the hourly send limit is the operator's control over a tenant: only an operator lifts it
      if (state.heldReason === 'send_limit' && !command.operator)
        return fail(
          'RELEASE_NOT_ALLOWED',
          state,
          "the server's send limit held this message; only an operator may release it",
        );
      // so is the reputation guard's pause: a resume releases what it held
      if (state.heldReason === 'reputation' && !command.operator)
        return fail(
          'RELEASE_NOT_ALLOWED',
          state,
          'the reputation guard held this message; an operator resumes sending, which releases it',
        );
      return ok([
        { type: 'MessageReleased', data: { ...(command.by ? { by: command.by } : {}), at } },
        // a scheduled message released early still waits for its time
        {
          type: 'MessageQueued',
          data: {
            dueAt: state.scheduledAt && Date.parse(state.scheduledAt) > Date.parse(at) ? state.scheduledAt : at,
            at,
          },
        },
      ]);
    }
    case 'Queue': {
      const guard = guardLive(state);
      if (guard) return guard;
      if (state.status === 'held') return fail('MESSAGE_HELD', state, 'the message is held; release it first');
      return ok([{ type: 'MessageQueued', data: { dueAt: command.dueAt, at } }]);
    }
    case 'RecordDeferral': {
      const guard = guardAttemptOutcome(state);
      if (guard) return guard;
      return ok([
        {
          type: 'MessageDeferred',
          data: { delivery: command.delivery, reason: command.reason, nextAttemptAt: command.nextAttemptAt, at },
        },
      ]);
    }
    case 'RecordDelivery': {
      const guard = guardAttemptOutcome(state);
      if (guard) return guard;
      return ok([{ type: 'MessageDelivered', data: { delivery: command.delivery, at } }]);
    }
    case 'RecordBounce': {
      const { type: _type, ...data } = command;
      if (command.kind === 'async') {
        // A DSN that arrives after the receiving server first said 250.
        if (state.status === 'none') return fail('MESSAGE_NOT_FOUND', state, 'no such message');
        if (!state.delivered) return fail('MESSAGE_NOT_DELIVERED', state, 'a late bounce needs a delivered message');
        if (state.bouncedAfterDelivery)
          return fail('MESSAGE_ALREADY_FINAL', state, 'a late bounce was already recorded');
        return ok([{ type: 'MessageBounced', data }]);
      }
      const guard = guardAttemptOutcome(state);
      if (guard) return guard;
      return ok([{ type: 'MessageBounced', data }]);
    }
    case 'RecordFailure': {
      const guard = guardAttemptOutcome(state);
      if (guard) return guard;
      return ok([{ type: 'MessageFailed', data: { reason: command.reason, attempts: state.attempts, at } }]);
    }
    case 'Cancel': {
      const guard = guardLive(state);
      if (guard) return guard;
      return ok([
        {
          type: 'MessageCancelled',
          data: {
            ...(command.by ? { by: command.by } : {}),
            ...(command.reason ? { reason: command.reason } : {}),
            at,
          },
        },
      ]);
    }
    case 'RecordOpen': {
      const guard = guardEngagement(state);
      if (guard) return guard;
      const { type: _type, ...data } = command;
      return ok([{ type: 'MessageOpened', data }]);
    }
    case 'RecordClick': {
      const guard = guardEngagement(state);
      if (guard) return guard;
      const { type: _type, ...data } = command;
      return ok([{ type: 'MessageLinkClicked', data }]);
    }
    case 'RecordUnsubscribe': {
      const guard = guardEngagement(state);
      if (guard) return guard;
      if (state.unsubscribed) return ok([]); // a second click of the same link changes nothing
      const { type: _type, ...data } = command;
      return ok([{ type: 'MessageUnsubscribed', data }]);
    }
    case 'RecordComplaint': {
      const guard = guardEngagement(state);
      if (guard) return guard;
      if (state.complained) return ok([]); // feedback loops resend reports; one complaint is enough
      const { type: _type, ...data } = command;
      return ok([{ type: 'MessageComplained', data }]);
    }
    case 'ExpireContent': {
      if (state.status === 'none') return fail('MESSAGE_NOT_FOUND', state, 'no such message');
      // a message still waiting for delivery keeps its content, whatever its age (an imported one waits for none)
      if (
        !state.imported &&
        (inFlight.has(state.status) || state.status === 'accepted' || state.status === 'released')
      ) {
        return fail('MESSAGE_IN_FLIGHT', state, 'the message may still be delivered; its content stays');
      }
      if (state.contentExpired) return ok([]);
      return ok([{ type: 'MessageContentExpired', data: { retentionDays: command.retentionDays, at } }]);
    }
    case 'RecordAutoReply': {
      const guard = guardEngagement(state);
      if (guard) return guard;
      const { type: _type, ...data } = command;
      return ok([{ type: 'MessageAutoReplied', data }]);
    }
    case 'Redeliver': {
      if (state.status === 'none' || !state.envelope || !state.serverId)
        return fail('MESSAGE_NOT_FOUND', state, 'no such message');
      if (!redeliverable.has(state.status))
        return fail(
          'MESSAGE_NOT_REDELIVERABLE',
          state,
          `only a delivered, failed or bounced message can be delivered again, not a ${state.status} one`,
        );
      if (state.contentExpired)
        return fail(
          'CONTENT_EXPIRED',
          state,
          "the message's content was deleted after the retention period; it cannot be sent again",
        );
      return ok([
        {
          type: 'MessageRedeliveryRequested',
          data: { ...(command.by ? { by: command.by } : {}), serverId: state.serverId, ...state.envelope, at },
        },
        { type: 'MessageQueued', data: { dueAt: at, at } },
      ]);
    }
  }
}

/** evolve(state, event) → state. Pure and total: it never fails. */
export function evolve(state: MessageState, event: MessageEvent): MessageState {
  switch (event.type) {
    case 'MessageAccepted':
      return {
        ...state,
        status: 'accepted',
        messageId: event.data.messageId,
        serverId: event.data.serverId,
        envelope: {
          from: event.data.from,
          to: event.data.to,
          token: event.data.token,
          contentHash: event.data.contentHash,
        },
        ...(event.data.scheduledAt ? { scheduledAt: event.data.scheduledAt } : {}),
        ...(event.data.requireTls ? { requireTls: true } : {}),
        ...(event.data.tlsOptional ? { tlsOptional: true } : {}),
      };
    case 'MessageHeld':
      return { ...state, status: 'held', heldReason: event.data.reason };
    case 'MessageReleased': {
      const { heldReason: _r, ...rest } = state;
      return { ...rest, status: 'released' };
    }
    case 'MessageQueued':
      return { ...state, status: 'queued' };
    case 'MessageDeferred':
      return { ...state, status: 'deferred', attempts: state.attempts + 1 };
    case 'MessageDelivered':
      return {
        ...state,
        status: 'delivered',
        attempts: state.attempts + 1,
        delivered: true,
        deliveredAt: event.data.at,
      };
    case 'MessageBounced':
      return event.data.kind === 'async'
        ? { ...state, status: 'bounced', bouncedAfterDelivery: true }
        : { ...state, status: 'bounced', attempts: state.attempts + (event.data.delivery ? 1 : 0) };
    case 'MessageFailed':
      return { ...state, status: 'failed' };
    case 'MessageCancelled':
      return { ...state, status: 'cancelled' };
    case 'MessageOpened':
      return { ...state, opens: state.opens + 1 };
    case 'MessageLinkClicked':
      return { ...state, clicks: state.clicks + 1 };
    case 'MessageUnsubscribed':
      return { ...state, unsubscribed: true };
    case 'MessageComplained':
      return { ...state, complained: true };
    case 'MessageAutoReplied':
      return state;
    case 'MessageContentExpired':
      return { ...state, contentExpired: true };
    case 'MessageImported':
      return {
        ...state,
        status: event.data.status,
        messageId: event.data.messageId,
        serverId: event.data.serverId,
        imported: true,
        attempts: event.data.deliveries.filter((d) => ATTEMPT_STATUSES.has(d.status)).length,
        delivered: event.data.status === 'delivered',
        ...(event.data.status === 'delivered'
          ? { deliveredAt: event.data.deliveries.findLast((d) => d.status === 'Sent')?.at ?? event.data.acceptedAt }
          : {}),
        contentExpired: event.data.contentHash === undefined,
        opens: event.data.opens,
        clicks: event.data.clicks,
      };
    case 'MessageRedeliveryRequested':
      // attempts go on counting (the history numbers every delivery of the message once); a late
      // bounce of the new delivery can be recorded; what recipients did with the first copy stays
      return { ...state, status: 'accepted', bouncedAfterDelivery: false };
  }
}

export const messageDecider = { decide, evolve, initialState };

export function foldMessage(events: MessageEvent[]): MessageState {
  return events.reduce(evolve, initialState());
}
