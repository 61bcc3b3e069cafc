import type { Result } from '../../domain/result.js';

/** How long a report about a message waits, at most, for the message's delivery to be recorded. */
export const REPORT_WAITS_FOR_DELIVERY_MS = 30_000;

/** Statuses from which a delivery may still be recorded any moment (an attempt may be ending). */
const ON_ITS_WAY = new Set(['queued', 'deferred']);

/**
 * Records a complaint or a late bounce, which need their message delivered, once the log says it was.
 * The receiving server has a message once it answers 250, and the MTA records that moments later (longer
 * when the log is slow: the outcome is retried); a feedback loop or a DSN can be quicker. Refused as not
 * delivered while the message is still on its way, the report is tried again (back-off from `firstPauseMs`,
 * doubled up to 2 s) for `waitMs` at most, before the reporting server is answered: dropped, it was lost
 * (the same race as a tracking hit's, write-side/tracking/hit-recorder.ts). A message that is held,
 * failed or bounced will not be delivered soon: its refusal is returned at once.
 */
export async function recordAfterDelivery<T, E extends { code: string; status?: string }>(
  record: () => Promise<Result<T, E>>,
  options: { waitMs?: number; firstPauseMs?: number } = {},
): Promise<Result<T, E>> {
  const deadline = Date.now() + (options.waitMs ?? REPORT_WAITS_FOR_DELIVERY_MS);
  for (let pause = options.firstPauseMs ?? 100; ; pause = Math.min(pause * 2, 2000)) {
    const result = await record();
    if (result.ok || result.error.code !== 'MESSAGE_NOT_DELIVERED') return result;
    if (!ON_ITS_WAY.has(result.error.status ?? '') || Date.now() + pause > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
