import { createHash } from 'node:crypto';
import {
  DMARC_REFUSED_STREAM_PREFIX,
  DMARC_REPORT_STREAM_PREFIX,
  DmarcReportReceived,
  DmarcReportRefused,
  dmarcEventCodec,
  type DmarcEvent,
} from '../../domain/index.js';
import type { EventStore } from '../../infra/event-store/index.js';

/** A report's stream: the same (reporter org, report id) is the same report, however often it is mailed. */
export const dmarcReportStreamId = (reporterOrg: string, reportId: string) =>
  `${DMARC_REPORT_STREAM_PREFIX}${createHash('sha256')
    .update(`${reporterOrg.toLowerCase()}\u0000${reportId}`)
    .digest('hex')
    .slice(0, 40)}`;

export type Recorded = 'recorded' | 'duplicate';

/**
 * Appends a stream's first and only event: a stream that exists already holds the same report (or
 * the same refused mail), so nothing is written twice. A log that cannot be written throws: the
 * inbound MX answers 451 and the reporter sends the mail again.
 */
async function appendOnce(
  store: EventStore,
  streamId: string,
  type: DmarcEvent['type'],
  data: unknown,
  serverId: string | undefined,
): Promise<Recorded> {
  const appended = await store.append(
    streamId,
    [
      {
        type,
        schemaVersion: dmarcEventCodec.schemaVersionOf(type),
        data,
        metadata: { actor: 'inbound', ...(serverId ? { serverId } : {}) },
      },
    ],
    'no_stream',
  );
  if (appended.ok) return 'recorded';
  if (appended.error.code === 'WRONG_EXPECTED_REVISION') return 'duplicate';
  throw new Error(`the log refused ${type}: ${appended.error.code}`);
}

export async function recordDmarcReport(store: EventStore, report: DmarcReportReceived): Promise<Recorded> {
  const data = DmarcReportReceived.parse(report);
  return appendOnce(
    store,
    dmarcReportStreamId(data.reporterOrg, data.reportId),
    'DmarcReportReceived',
    data,
    data.serverId,
  );
}

export async function recordRefusedDmarcReport(store: EventStore, refused: DmarcReportRefused): Promise<Recorded> {
  const data = DmarcReportRefused.parse(refused);
  return appendOnce(
    store,
    `${DMARC_REFUSED_STREAM_PREFIX}${data.contentHash}`,
    'DmarcReportRefused',
    data,
    data.serverId,
  );
}
