export {
  addTlsReportCounts,
  emptyTlsReportCounts,
  TLS_REPORT_COUNTS,
  tlsReportCountsOf,
  type TlsReportCount,
} from './tls-report-counts.js';
