import type { Counter } from 'prom-client';
import type { Logger } from '../logging/index.js';
import {
  failureReason,
  type MessageScanner,
  type ScanContext,
  type ScanError,
  type ScannerName,
  type SpamVerdict,
  type Verdict,
} from './verdict.js';

/** What all the enabled scanners said together. */
export interface CombinedVerdict {
  /** The scanners that answered. */
  verdicts: Verdict[];
  /** The scanners that did not (each also counted and logged). */
  failures: ScanError[];
  /** The most suspicious spam verdict (rspamd's and SpamAssassin's scores are not on one scale, so not added). */
  spam?: SpamVerdict & { scanner: ScannerName };
  /** found when any virus scanner found one. */
  virus?: { found: boolean; name?: string; scanner: ScannerName };
  /** Wall time of the whole scan (the scanners run at once). */
  durationMs: number;
}

/**
 * Runs every enabled scanner on the message at the same time and merges what they said. A scanner
 * that fails does not fail the scan: it is listed in `failures`, counted in
 * postlog_scanner_failures_total{scanner,reason} and logged as a warning; the caller decides by
 * POSTLOG_SCAN_FAILURE (see `mustTempfail`).
 */
export class CombinedScanner {
  constructor(
    readonly scanners: MessageScanner[],
    private readonly observe: { logger: Logger; failures?: Counter<'scanner' | 'reason'> },
  ) {}

  /** The same, with the spam scanners only (the outbound check has no use for a virus scan); none: undefined. */
  spamOnly(): CombinedScanner | undefined {
    const spam = this.scanners.filter((s) => s.name !== 'clamav');
    return spam.length > 0 ? new CombinedScanner(spam, this.observe) : undefined;
  }

  /** The same, with the virus scanners only (the outbound virus scan); none: undefined. */
  virusOnly(): CombinedScanner | undefined {
    const virus = this.scanners.filter((s) => s.name === 'clamav');
    return virus.length > 0 ? new CombinedScanner(virus, this.observe) : undefined;
  }

  async scan(raw: Buffer, context: ScanContext = {}): Promise<CombinedVerdict> {
    const started = performance.now();
    const results = await Promise.all(this.scanners.map((s) => s.scan(raw, context)));
    const verdicts: Verdict[] = [];
    const failures: ScanError[] = [];
    for (const r of results) {
      if (r.ok) verdicts.push(r.value);
      else {
        failures.push(r.error);
        this.observe.failures?.inc({ scanner: r.error.scanner, reason: failureReason[r.error.code] });
        this.observe.logger.warn(
          { scanner: r.error.scanner, code: r.error.code, error: r.error.message, bytes: raw.length },
          'scanner gave no verdict',
        );
      }
    }
    return { ...merge(verdicts), verdicts, failures, durationMs: Math.round(performance.now() - started) };
  }
}

function merge(verdicts: Verdict[]): Pick<CombinedVerdict, 'spam' | 'virus'> {
  let spam: CombinedVerdict['spam'];
  let virus: CombinedVerdict['virus'];
  for (const v of verdicts) {
    if (v.spam && (!spam || v.spam.score > spam.score)) spam = { ...v.spam, scanner: v.scanner };
    if (v.virus && (!virus || (v.virus.found && !virus.found))) virus = { ...v.virus, scanner: v.scanner };
  }
  return { ...(spam ? { spam } : {}), ...(virus ? { virus } : {}) };
}

/**
 * Whether POSTLOG_SCAN_FAILURE=tempfail refuses this message for now: a scanner was down or slow.
 * A message over the size limit is not one: it would never get through, so it goes on unscanned.
 */
export function mustTempfail(verdict: CombinedVerdict, policy: 'accept' | 'tempfail'): boolean {
  return policy === 'tempfail' && verdict.failures.some((f) => f.code !== 'MESSAGE_TOO_LARGE');
}

/** A verdict as a message records it: the shape of domain/incoming's ScanResult. */
export interface ScanSummary {
  /** Postal's spam_status. */
  spamStatus: 'NotChecked' | 'NotSpam' | 'Spam';
  spamScore?: number;
  spamThreshold?: number;
  symbols?: { name: string; score: number }[];
  virus?: string;
  /** "<scanner>: <code>" for each scanner that gave no verdict. */
  failures?: string[];
}

/** Postal's spam_status at `threshold`, the score and symbols, the virus name, and the scanners that failed. */
export function scanSummary(verdict: CombinedVerdict, threshold: number): ScanSummary {
  const score = verdict.spam?.score;
  const summary: ScanSummary = {
    spamStatus: score === undefined ? 'NotChecked' : score >= threshold ? 'Spam' : 'NotSpam',
  };
  if (score !== undefined) Object.assign(summary, { spamScore: score, spamThreshold: threshold });
  if (verdict.spam) summary.symbols = verdict.spam.symbols.slice(0, 200);
  if (verdict.virus?.found) summary.virus = verdict.virus.name ?? 'unnamed';
  if (verdict.failures.length > 0) summary.failures = verdict.failures.map((f) => `${f.scanner}: ${f.code}`);
  return summary;
}
