import type { Counter } from 'prom-client';
import type { z } from 'zod';
import { ConfigSchema } from '../config/schema.js';
import type { Logger } from '../logging/index.js';
import { ClamdScanner } from './clamd.js';
import { CombinedScanner } from './combined-scanner.js';
import { RspamdScanner } from './rspamd.js';
import { SpamdScanner } from './spamd.js';
import type { MessageScanner, ScannerLimits } from './verdict.js';

/** The settings of scanning, as the configuration schema has them. */
export const ScanningSettings = ConfigSchema.pick({
  rspamdUrl: true,
  spamdHost: true,
  spamdPort: true,
  clamdHost: true,
  clamdPort: true,
  clamdSocket: true,
  scanTimeoutSeconds: true,
  scanMaxBytes: true,
  scanFailure: true,
  outboundVirusScan: true,
  spamThreshold: true,
  spamFailThreshold: true,
});
export type ScanningSettings = z.infer<typeof ScanningSettings>;

/** The scanners whose addresses are set; none set: undefined (nothing is scanned). */
export function scannerFromSettings(
  settings: ScanningSettings,
  observe: { logger: Logger; failures?: Counter<'scanner' | 'reason'> },
): CombinedScanner | undefined {
  const limits: ScannerLimits = {
    timeoutMs: Math.round(settings.scanTimeoutSeconds * 1000),
    maxMessageBytes: settings.scanMaxBytes,
  };
  const scanners: MessageScanner[] = [];
  if (settings.rspamdUrl) scanners.push(new RspamdScanner(settings.rspamdUrl, limits));
  if (settings.spamdHost)
    scanners.push(new SpamdScanner({ host: settings.spamdHost, port: settings.spamdPort }, limits));
  if (settings.clamdSocket) scanners.push(new ClamdScanner({ path: settings.clamdSocket }, limits));
  else if (settings.clamdHost)
    scanners.push(new ClamdScanner({ host: settings.clamdHost, port: settings.clamdPort }, limits));
  return scanners.length > 0 ? new CombinedScanner(scanners, observe) : undefined;
}
