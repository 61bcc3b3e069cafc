import { err, ok, type OutboundVirusCheck, type Result } from '../../domain/index.js';
import { mustTempfail, type CombinedScanner, type ScanContext } from '../../infra/scanning/index.js';

/** The outbound virus scan's dependencies: the virus scanners (clamd), and what a scanner that fails means. */
export interface VirusCheckDeps {
  scanner: CombinedScanner;
  /** POSTLOG_SCAN_FAILURE: accept (go on unscanned, fail-open) or tempfail (refuse for now). */
  failurePolicy: 'accept' | 'tempfail';
}

export type VirusCheckError =
  | { code: 'VIRUS_FOUND'; message: string; virus: string }
  | { code: 'VIRUS_SCAN_UNAVAILABLE'; message: string };

/**
 * Every outgoing message is scanned for viruses before anything is accepted (POSTLOG_OUTBOUND_VIRUS_SCAN,
 * on when clamd is configured): a virus refuses the message for good, naming the signature; Postlog
 * does not send malware for its tenants. A scanner that does not answer: the message goes on,
 * recorded as NotChecked, or, with POSTLOG_SCAN_FAILURE=tempfail, is refused for now (the client retries).
 */
export async function checkOutboundVirus(
  deps: VirusCheckDeps,
  raw: Buffer,
  context: ScanContext,
): Promise<Result<OutboundVirusCheck, VirusCheckError>> {
  const verdict = await deps.scanner.scan(raw, context);
  if (verdict.virus?.found) {
    const virus = verdict.virus.name ?? 'unnamed';
    return err({
      code: 'VIRUS_FOUND',
      virus,
      message: `the message carries a virus: ${virus} (${verdict.virus.scanner})`,
    });
  }
  if (mustTempfail(verdict, deps.failurePolicy))
    return err({
      code: 'VIRUS_SCAN_UNAVAILABLE',
      message: `the virus scan could not be made (${verdict.failures.map((f) => f.message).join('; ')}); retry later`,
    });
  if (verdict.virus) return ok({ virusStatus: 'Clean' });
  return ok({ virusStatus: 'NotChecked', failures: verdict.failures.map((f) => `${f.scanner}: ${f.code}`) });
}

/** The error's `fields` for a virus: the signature, where a client looks for what is wrong. */
export const virusFields = (virus: string) => [{ path: 'virus', message: virus }];
