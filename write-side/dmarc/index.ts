export {
  dmarcReportStreamId,
  recordDmarcReport,
  recordRefusedDmarcReport,
  type Recorded,
} from './record-dmarc-report.js';
