import {
  classifyBounce,
  nextRetry,
  type DeliveryAttempt,
  type MessageCommandInput,
  type RetryPolicy,
} from '../domain/index.js';
import { isThrottleReply } from './shaping/shaper.js';
import type { SendOutcome } from './smtp/smtp-session.js';

/** What one attempt at a message comes to, and the command that records it. Pure: time comes in. */
export type OutcomeDecision =
  | { outcome: 'delivered'; command: MessageCommandInput }
  | { outcome: 'bounced'; command: MessageCommandInput; suppress?: string }
  | {
      outcome: 'deferred' | 'failed';
      command: MessageCommandInput;
      /** The connection broke: the session is gone, the next messages go on another. */
      connectionLost: boolean;
      /** The server asked us to slow down (421, "too many connections"…). */
      throttled: boolean;
    };

/**
 * The remote server's answer (or a broken connection) as an outcome: 2xx delivered; 5xx bounced
 * (classified; a bad mailbox is to be suppressed); 4xx and lost connections deferred, or failed
 * once the retry policy gives up.
 */
export function decideOutcome(
  sent: SendOutcome,
  delivery: DeliveryAttempt,
  message: { acceptedAt: Date },
  policy: RetryPolicy,
  now: Date,
): OutcomeDecision {
  if (sent.ok) return { outcome: 'delivered', command: { type: 'RecordDelivery', delivery, at: delivery.at } };
  if (sent.kind === 'connection') return retryOrGiveUp(sent.error, delivery, message, policy, now, true, false);
  const { code, text, enhancedCode } = sent.reply;
  const said = `${code} ${enhancedCode ? `${enhancedCode} ` : ''}${text}`;
  if (code >= 500) {
    const verdict = classifyBounce(text, enhancedCode);
    return {
      outcome: 'bounced',
      command: {
        type: 'RecordBounce',
        kind: 'sync',
        delivery,
        ...(verdict.enhancedCode ? { enhancedCode: verdict.enhancedCode } : {}),
        diagnostic: said,
        classification: verdict.category,
        suppress: verdict.suppress,
        at: delivery.at,
      },
      ...(verdict.suppress ? { suppress: `hard bounce: ${code} ${enhancedCode ?? ''} ${text}`.slice(0, 500) } : {}),
    };
  }
  return retryOrGiveUp(said, delivery, message, policy, now, false, isThrottleReply(code, text));
}

/** A temporary failure as a deferral, or a failure once the retry policy gives up. */
export function retryOrGiveUp(
  reason: string,
  delivery: DeliveryAttempt,
  message: { acceptedAt: Date },
  policy: RetryPolicy,
  now: Date,
  connectionLost: boolean,
  throttled: boolean,
): OutcomeDecision {
  const decision = nextRetry(policy, {
    attemptsMade: delivery.attempt,
    acceptedAt: message.acceptedAt,
    now,
    replyText: reason,
  });
  if ('giveUp' in decision)
    return {
      outcome: 'failed',
      command: { type: 'RecordFailure', reason: `${decision.reason}; last answer: ${reason}`, at: delivery.at },
      connectionLost,
      throttled,
    };
  return {
    outcome: 'deferred',
    command: {
      type: 'RecordDeferral',
      delivery,
      reason,
      nextAttemptAt: decision.retryAt.toISOString(),
      at: delivery.at,
    },
    connectionLost,
    throttled,
  };
}
