export {
  addTlsReportCounts,
  emptyTlsReportCounts,
  TLS_REPORT_COUNTS,
  tlsReportCountsOf,
  tlsReportDomainsOn,
  type TlsReportCount,
} from './tls-report-counts.js';
export {
  claimTlsReport,
  finishTlsReport,
  TLS_REPORT_MAX_ATTEMPTS,
  tlsReportsSentOn,
  type SentTlsReport,
  type TlsReportTarget,
} from './sent-reports.js';
export { postTlsReport, REPORT_POST_TIMEOUT_MS } from './report-poster.js';
