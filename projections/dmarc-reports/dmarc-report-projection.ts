import { DMARC_REFUSED_STREAM_PREFIX, DMARC_REPORT_STREAM_PREFIX, dmarcEventCodec } from '../../domain/index.js';
import {
  DMARC_REFUSED_REPORTS,
  DMARC_REPORT_RECORDS,
  DMARC_REPORTS,
  emptyDmarcReports,
  insertDmarcReport,
  insertRefusedDmarcReport,
  type DmarcTables,
} from '../../infra/dmarc-reports/index.js';
import type { PostgresProjection, TableNames } from '../runner.js';

const tables = (t: TableNames): DmarcTables => ({
  reports: t(DMARC_REPORTS),
  records: t(DMARC_REPORT_RECORDS),
  refused: t(DMARC_REFUSED_REPORTS),
});

/**
 * The DMARC aggregate reports received, as rows the GraphQL reports and GET
 * /v2/domains/{id}/dmarc-reports read: each report with its records, and each refused mail.
 */
export const dmarcReportProjection: PostgresProjection = {
  name: 'dmarc-reports',
  version: 1,
  filter: { streamPrefixes: [DMARC_REPORT_STREAM_PREFIX, DMARC_REFUSED_STREAM_PREFIX] },
  tables: [DMARC_REPORTS, DMARC_REPORT_RECORDS, DMARC_REFUSED_REPORTS],
  async reset(client, t) {
    await emptyDmarcReports(client, tables(t));
  },
  async apply(client, events, t) {
    for (const r of events) {
      const decoded = dmarcEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
      const e = decoded.value;
      if (e.type === 'DmarcReportReceived') await insertDmarcReport(client, tables(t), r.streamId, e.data);
      else await insertRefusedDmarcReport(client, tables(t), e.data);
    }
  },
};
