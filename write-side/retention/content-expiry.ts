import { addReleaseCandidates } from '../../infra/content/index.js';
import { expirableMessages } from '../../infra/read-models/index.js';
import { retentionPeriods } from '../../infra/tenancy/index.js';
import type { RetentionDeps } from './retention-job.js';
import { handleMessageCommand } from '../message-command-handler.js';
import { handleIncomingCommand } from '../incoming/incoming-command-handler.js';

/**
 * Statuses whose content retention may remove (a queued or deferred message still needs it; so does
 * incoming mail an endpoint has still to take, status routing).
 */
const EXPIRABLE = ['delivered', 'bounced', 'failed', 'cancelled', 'held', 'stored', 'rejected'];
/** Appends in flight at once: they share the event store's group commits. */
const CONCURRENCY = 8;
/** A candidate is checked once the read models have had time to record the expiry. */
const CHECK_DELAY_MS = 10 * 60_000;

/**
 * Appends ContentExpired to every message past its server's retention period, server by server,
 * oldest first, in batches. Before a batch is expired its bodies become release candidates
 * (content-release.ts deletes them once no message needs them): registered first, a crash in
 * between leaves a candidate that turns out to be needed, never a body nobody will look at again.
 *
 * Reads walk each server's messages by (accepted_at, message_id) from where the last batch ended:
 * the read model learns of an expiry only later, and re-reading from the start would find the
 * same messages again.
 */
export async function expireContent(
  deps: RetentionDeps,
  now: Date,
  batchSize: number,
  deadline: number,
): Promise<{ expired: number; complete: boolean }> {
  const servers = await retentionPeriods(deps.pool);
  let expired = 0;
  for (const server of servers) {
    const cutoff = new Date(now.getTime() - server.retention_days * 86_400_000);
    let after = { at: '-infinity', id: '0' };
    for (;;) {
      if (performance.now() > deadline) return { expired, complete: false };
      const rows = await expirableMessages(deps.pool, server.id, cutoff.toISOString(), EXPIRABLE, after, batchSize);
      if (rows.length === 0) break;
      await addReleaseCandidates(
        deps.pool,
        rows.map((r) => r.content_hash),
        new Date(now.getTime() + CHECK_DELAY_MS).toISOString(),
      );
      let next = 0;
      const expireNext = async () => {
        while (next < rows.length) {
          const r = rows[next++]!;
          const command = {
            type: 'ExpireContent',
            retentionDays: server.retention_days,
            at: now.toISOString(),
          } as const;
          const result =
            r.direction === 'incoming'
              ? await handleIncomingCommand(deps.eventStore, r.id, command, { actor: 'retention' })
              : await handleMessageCommand(deps.eventStore, r.id, command, { actor: 'retention' });
          if (result.ok && result.value.events.length > 0) expired++;
          // in flight: the read model had not seen it queued again yet; it is read again next run
          else if (!result.ok && result.error.code !== 'MESSAGE_IN_FLIGHT')
            deps.logger.warn({ messageId: r.id, error: result.error }, 'content could not be expired');
        }
      };
      // every worker finishes before a failure is passed on: none may still append once the run
      // has given up its lock and the next one has started
      const settled = await Promise.allSettled(Array.from({ length: Math.min(CONCURRENCY, rows.length) }, expireNext));
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      const last = rows[rows.length - 1]!;
      after = { at: last.at, id: last.id };
      if (rows.length < batchSize) break;
    }
  }
  return { expired, complete: true };
}
