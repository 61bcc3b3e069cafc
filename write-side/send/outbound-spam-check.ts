import { err, ok, type OutboundSpamCheck, type Result } from '../../domain/index.js';
import { mustTempfail, scanSummary, type CombinedScanner, type ScanContext } from '../../infra/scanning/index.js';

/** The outbound spam check's dependencies: the spam scanners, and what a scanner that fails means. */
export interface SpamCheckDeps {
  scanner: CombinedScanner;
  /** POSTLOG_SCAN_FAILURE: accept (go on unchecked, fail-open) or tempfail (refuse for now). */
  failurePolicy: 'accept' | 'tempfail';
}

export interface SpamCheckOutcome {
  /** Recorded on the message (MessageAccepted.spamCheck). */
  check: OutboundSpamCheck;
  /** Present when the message is to be held as spam. */
  hold?: { reason: 'spam'; detail: string };
}

export type SpamCheckError = { code: 'SPAM_CHECK_UNAVAILABLE'; message: string };

/** Symbols named in a hold's detail; the rest is "…". */
const SYMBOLS_SHOWN = 5;

/**
 * Postal's outbound spam check: the message is scanned before it is accepted; at or above the
 * server's threshold it is accepted but held, with the score and what scored it in the hold's
 * detail. A scanner that does not answer: the message goes on unchecked (recorded as NotChecked),
 * or, with POSTLOG_SCAN_FAILURE=tempfail, is refused for now (the client retries).
 */
export async function checkOutboundSpam(
  deps: SpamCheckDeps,
  threshold: number,
  raw: Buffer,
  context: ScanContext,
): Promise<Result<SpamCheckOutcome, SpamCheckError>> {
  const verdict = await deps.scanner.scan(raw, context);
  if (mustTempfail(verdict, deps.failurePolicy) && !verdict.spam)
    return err({
      code: 'SPAM_CHECK_UNAVAILABLE',
      message: `the spam check could not be made (${verdict.failures.map((f) => f.message).join('; ')}); retry later`,
    });
  const check = scanSummary(verdict, threshold);
  const { virus: _virus, ...recorded } = check;
  const score = verdict.spam?.score;
  if (score === undefined || score < threshold) return ok({ check: recorded });
  return ok({ check: recorded, hold: { reason: 'spam', detail: holdDetail(score, threshold, check.symbols ?? []) } });
}

/** "spam score 12.3 ≥ 5.0: GTUBE, MISSING_DATE, …": the symbols that scored most first. */
export function holdDetail(score: number, threshold: number, symbols: { name: string; score: number }[]): string {
  const ranked = [...symbols].sort((a, b) => b.score - a.score);
  const scoring = ranked.filter((s) => s.score > 0);
  // rspamd's GTUBE scores 0 itself (its action decides): then name what there is
  const named = (scoring.length > 0 ? scoring : ranked).map((s) => s.name);
  const shown = named.slice(0, SYMBOLS_SHOWN).join(', ') + (named.length > SYMBOLS_SHOWN ? ', …' : '');
  return `spam score ${score.toFixed(1)} ≥ ${threshold.toFixed(1)}${shown ? `: ${shown}` : ''}`;
}
