export {
  ScannerName,
  SpamSymbol,
  SpamVerdict,
  VirusVerdict,
  Verdict,
  ScanContext,
  ScanErrorCode,
  ScanError,
  failureReason,
  type MessageScanner,
  type ScannerLimits,
} from './verdict.js';
export type { DaemonAddress } from './tcp-exchange.js';
export { RspamdScanner } from './rspamd.js';
export { SpamdScanner } from './spamd.js';
export { ClamdScanner } from './clamd.js';
export {
  CombinedScanner,
  mustTempfail,
  scanSummary,
  type CombinedVerdict,
  type ScanSummary,
} from './combined-scanner.js';
export { ScanningSettings, scannerFromSettings } from './from-config.js';
