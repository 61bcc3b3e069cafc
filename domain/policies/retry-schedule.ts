/** When to try a deferred message again, and when to give up. Pure: the caller passes the clock. */
export interface RetryPolicy {
  /** Delays in seconds after attempt 1, 2, …; the last one repeats. */
  delaysSeconds: number[];
  /** Give up this long after the message was accepted (default 3 days). */
  maxAgeSeconds: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  // roughly exponential from one minute, settling at every four hours
  delaysSeconds: [60, 120, 300, 600, 1200, 2400, 3600, 7200, 14400],
  maxAgeSeconds: 3 * 24 * 3600,
};

/** "try again in 30 seconds", "retry after 5 minutes", "please try again later (120s)" */
export function retryHintSeconds(text: string): number | undefined {
  const m =
    /(?:try|retry)(?: again)?(?: later)?\s*(?:in|after)?\s*(\d{1,6})\s*(s|sec|secs|seconds?|m|min|mins|minutes?)\b/i.exec(
      text,
    );
  if (!m) return undefined;
  const n = Number(m[1]);
  return /^m/i.test(m[2]!) ? n * 60 : n;
}

export type RetryDecision = { retryAt: Date } | { giveUp: true; reason: string };

export function nextRetry(
  policy: RetryPolicy,
  input: { attemptsMade: number; acceptedAt: Date; now: Date; replyText?: string },
): RetryDecision {
  const index = Math.max(0, Math.min(input.attemptsMade - 1, policy.delaysSeconds.length - 1));
  const hinted = input.replyText ? retryHintSeconds(input.replyText) : undefined;
  const delay =
    hinted !== undefined && hinted > 0 && hinted < policy.maxAgeSeconds ? hinted : policy.delaysSeconds[index]!;
  const retryAt = new Date(input.now.getTime() + delay * 1000);
  const deadline = input.acceptedAt.getTime() + policy.maxAgeSeconds * 1000;
  if (retryAt.getTime() > deadline) {
    return {
      giveUp: true,
      reason: `not delivered within ${Math.round(policy.maxAgeSeconds / 3600)} hours after ${input.attemptsMade} attempts`,
    };
  }
  return { retryAt };
}
