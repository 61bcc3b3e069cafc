import { err, ok, type Result } from '../../domain/result.js';
import { exchange, type DaemonAddress } from './tcp-exchange.js';
import {
  tooLarge,
  type MessageScanner,
  type ScanContext,
  type ScanError,
  type ScannerLimits,
  type SpamSymbol,
  type Verdict,
} from './verdict.js';

/**
 * SpamAssassin's spamd, in the spamc protocol (version 1.5): `REPORT`, a Content-length header and
 * the message; the answer is `SPAMD/1.1 0 EX_OK`, a `Spam: True ; 5.1 / 5.0` header and the report,
 * whose table gives each rule that hit with its points (SYMBOLS would give the names only).
 */
export class SpamdScanner implements MessageScanner {
  readonly name = 'spamassassin' as const;

  constructor(
    private readonly address: DaemonAddress,
    private readonly limits: ScannerLimits,
  ) {}

  async scan(raw: Buffer, _context?: ScanContext): Promise<Result<Verdict, ScanError>> {
    const started = performance.now();
    if (raw.length > this.limits.maxMessageBytes) return tooLarge(this.name, raw.length, this.limits.maxMessageBytes);
    // no User header: a spamd running as root would switch to that user's settings
    const headers = ['REPORT SPAMC/1.5', `Content-length: ${raw.length}`];
    const answer = await exchange({
      scanner: this.name,
      address: this.address,
      request: [Buffer.from(`${headers.join('\r\n')}\r\n\r\n`), raw],
      timeoutMs: this.limits.timeoutMs,
      maxAnswerBytes: 1024 * 1024,
    });
    if (!answer.ok) return answer;
    const parsed = parseSpamdAnswer(answer.value.toString('utf8'));
    if (!parsed.ok) return parsed;
    return ok({ scanner: this.name, spam: parsed.value, durationMs: Math.round(performance.now() - started) });
  }
}

/** The spamd answer to REPORT: status line, headers, a blank line, the report. */
export function parseSpamdAnswer(text: string): Result<NonNullable<Verdict['spam']>, ScanError> {
  const protocolError = (message: string) =>
    err({ code: 'SCANNER_PROTOCOL_ERROR' as const, scanner: 'spamassassin' as const, message });
  const status = /^SPAMD\/\d+\.\d+ (\d+) (\S+)/.exec(text);
  if (!status) return protocolError(`spamd answered something else: ${JSON.stringify(text.slice(0, 80))}`);
  if (status[1] !== '0')
    return err({ code: 'SCANNER_ERROR', scanner: 'spamassassin', message: `spamd: ${status[1]} ${status[2]}` });
  const spam = /^Spam: (True|False|Yes|No) ; (-?[\d.]+) \/ (-?[\d.]+)\r?$/im.exec(text);
  if (!spam) return protocolError('spamd answered without a Spam: header');
  const body = text.slice(text.search(/\r?\n\r?\n/) + 2);
  const symbols: SpamSymbol[] = [];
  // the report's table: " 2.7 MISSING_DATE  Missing Date: header"
  for (const m of body.matchAll(/^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s/gm))
    symbols.push({ name: m[2]!, score: Number(m[1]) });
  return ok({
    score: Number(spam[2]),
    threshold: Number(spam[3]),
    symbols,
    isSpam: spam[1] === 'True' || spam[1] === 'Yes',
  });
}
