import { spamStatusOf, type IncomingScan } from '../../domain/index.js';
import { type CombinedScanner, mustTempfail } from '../../infra/scanning/index.js';
import type { Envelope } from './receive-routed.js';

/** A scanner that was down or slow while POSTLOG_SCAN_FAILURE=tempfail: the sender is asked to try later. */
export class ScanUnavailable extends Error {
  constructor(
    message: string,
    /** The scanners that gave no verdict: the reply says which check could not be made. */
    readonly scanners: string[],
  ) {
    super(message);
  }
}

/** The verdict as IncomingScanned records it, but its time (the receiving append's). */
export type InboundScanVerdict = Omit<IncomingScan, 'at'>;

/**
 * The configured scanners' verdict on a received message, as the incoming message records it:
 * the scanners asked, Postal's spam_status at the spam threshold, the score, the symbols, a virus's
 * name, and the scanners that did not answer (fail-open), or ScanUnavailable when the policy is tempfail.
 */
export function inboundScan(scanner: CombinedScanner, spamThreshold: number, failurePolicy: 'accept' | 'tempfail') {
  return async (raw: Buffer, envelope: Envelope & { rcpts?: string[] }): Promise<InboundScanVerdict> => {
    const verdict = await scanner.scan(raw, {
      from: envelope.mailFrom,
      ip: envelope.clientIp,
      helo: envelope.helo,
      ...(envelope.rcpts ? { rcpt: envelope.rcpts } : {}),
    });
    if (mustTempfail(verdict, failurePolicy)) {
      const failed = verdict.failures.map((f) => f.scanner);
      throw new ScanUnavailable(`scanner ${failed.join(', ')} gave no verdict`, failed);
    }
    const score = verdict.spam?.score;
    return {
      scanners: scanner.scanners.map((s) => s.name),
      spamStatus: spamStatusOf(score, spamThreshold),
      ...(score !== undefined ? { spamScore: score, spamThreshold } : {}),
      ...(verdict.spam ? { symbols: verdict.spam.symbols.slice(0, 200) } : {}),
      ...(verdict.virus?.found ? { virus: verdict.virus.name ?? 'unnamed' } : {}),
      ...(verdict.failures.length > 0 ? { failures: verdict.failures.map((f) => `${f.scanner}: ${f.code}`) } : {}),
    };
  };
}
