import { z } from 'zod';
import { err, type Err, type Result } from '../../domain/result.js';

/**
 * The scanner port: a message's raw bytes in, what a spam or virus scanner said of them out. Each
 * adapter speaks its daemon's own protocol over TCP (rspamd.ts, spamd.ts, clamd.ts); every one must
 * pass test/contract/message-scanner.contract.ts. A scanner that does not answer in time is an error
 * value, never a hang: the caller decides what that means (POSTLOG_SCAN_FAILURE).
 */

export const ScannerName = z.enum(['rspamd', 'spamassassin', 'clamav']);
export type ScannerName = z.infer<typeof ScannerName>;

export const SpamSymbol = z.object({ name: z.string(), score: z.number() });
export type SpamSymbol = z.infer<typeof SpamSymbol>;

export const SpamVerdict = z.object({
  score: z.number(),
  /** The scanner's own spam threshold (rspamd: required_score; spamd: the "/ 5.0" of its answer). */
  threshold: z.number(),
  symbols: z.array(SpamSymbol),
  /** The scanner's own opinion at its threshold; Postlog's settings compare `score` themselves. */
  isSpam: z.boolean(),
  /** rspamd's action ("no action", "add header", "reject", …); other scanners have none. */
  action: z.string().optional(),
});
export type SpamVerdict = z.infer<typeof SpamVerdict>;

export const VirusVerdict = z.object({ found: z.boolean(), name: z.string().optional() });
export type VirusVerdict = z.infer<typeof VirusVerdict>;

export const Verdict = z.object({
  scanner: ScannerName,
  spam: SpamVerdict.optional(),
  virus: VirusVerdict.optional(),
  durationMs: z.number().min(0),
});
export type Verdict = z.infer<typeof Verdict>;

/** What the scanner may know of the message's way in; each field is sent where the protocol has a place for it. */
export const ScanContext = z.object({
  /** The envelope sender (MAIL FROM). */
  from: z.string().optional(),
  /** The envelope recipients (RCPT TO). */
  rcpt: z.array(z.string()).optional(),
  /** The client's IP address. */
  ip: z.string().optional(),
  /** The client's EHLO/HELO name. */
  helo: z.string().optional(),
});
export type ScanContext = z.infer<typeof ScanContext>;

export const ScanErrorCode = z.enum([
  /** Nothing listens (connection refused, no route, name not found). */
  'SCANNER_UNREACHABLE',
  /** No complete answer within the timeout. */
  'SCANNER_TIMEOUT',
  /** An answer that is not the protocol's (or over the answer size limit). */
  'SCANNER_PROTOCOL_ERROR',
  /** The scanner answered with an error of its own (e.g. clamd's "ERROR"). */
  'SCANNER_ERROR',
  /** The message is over the size limit: ours, or the daemon's (clamd's StreamMaxLength). */
  'MESSAGE_TOO_LARGE',
]);
export type ScanErrorCode = z.infer<typeof ScanErrorCode>;

export const ScanError = z.object({ code: ScanErrorCode, scanner: ScannerName, message: z.string() });
export type ScanError = z.infer<typeof ScanError>;

/** The label of postlog_scanner_failures_total{reason} for each error code. */
export const failureReason: Record<ScanErrorCode, string> = {
  SCANNER_UNREACHABLE: 'unreachable',
  SCANNER_TIMEOUT: 'timeout',
  SCANNER_PROTOCOL_ERROR: 'protocol',
  SCANNER_ERROR: 'error',
  MESSAGE_TOO_LARGE: 'too_large',
};

export interface MessageScanner {
  readonly name: ScannerName;
  scan(raw: Buffer, context?: ScanContext): Promise<Result<Verdict, ScanError>>;
}

/** Limits every adapter takes. */
export interface ScannerLimits {
  /** The whole exchange (connect, send, answer) must end within this. */
  timeoutMs: number;
  /** Messages larger than this are not sent (MESSAGE_TOO_LARGE). */
  maxMessageBytes: number;
}

export function tooLarge(scanner: ScannerName, size: number, max: number): Err<ScanError> {
  return err({
    code: 'MESSAGE_TOO_LARGE',
    scanner,
    message: `the message (${size} bytes) is over the scan limit of ${max} bytes`,
  });
}
