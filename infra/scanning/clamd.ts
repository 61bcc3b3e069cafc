import { err, ok, type Result } from '../../domain/result.js';
import { exchange, type DaemonAddress } from './tcp-exchange.js';
import {
  tooLarge,
  type MessageScanner,
  type ScanContext,
  type ScanError,
  type ScannerLimits,
  type Verdict,
} from './verdict.js';

/** clamd reads INSTREAM data in chunks; 64 KiB is what clamdscan sends. */
const CHUNK_BYTES = 64 * 1024;

/**
 * ClamAV's clamd: `zINSTREAM` (NUL-terminated command), the message in chunks each led by its length
 * as 4 bytes big-endian, a zero length to end. The answer: `stream: OK`, `stream: <Name> FOUND`, or
 * `INSTREAM size limit exceeded. ERROR` past clamd's StreamMaxLength (clamd then closes while we
 * may still be writing: that is MESSAGE_TOO_LARGE, not a broken connection).
 */
export class ClamdScanner implements MessageScanner {
  readonly name = 'clamav' as const;

  constructor(
    private readonly address: DaemonAddress,
    private readonly limits: ScannerLimits,
  ) {}

  async scan(raw: Buffer, _context?: ScanContext): Promise<Result<Verdict, ScanError>> {
    const started = performance.now();
    if (raw.length > this.limits.maxMessageBytes) return tooLarge(this.name, raw.length, this.limits.maxMessageBytes);
    const request: Buffer[] = [Buffer.from('zINSTREAM\0')];
    for (let at = 0; at < raw.length; at += CHUNK_BYTES) {
      const chunk = raw.subarray(at, at + CHUNK_BYTES);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(chunk.length);
      request.push(length, chunk);
    }
    request.push(Buffer.alloc(4));
    const answer = await exchange({
      scanner: this.name,
      address: this.address,
      request,
      timeoutMs: this.limits.timeoutMs,
      maxAnswerBytes: 64 * 1024,
    });
    if (!answer.ok) return answer;
    const virus = parseClamdAnswer(answer.value.toString('utf8'), raw.length);
    if (!virus.ok) return virus;
    return ok({ scanner: this.name, virus: virus.value, durationMs: Math.round(performance.now() - started) });
  }
}

export function parseClamdAnswer(text: string, size: number): Result<NonNullable<Verdict['virus']>, ScanError> {
  const line = text.replace(/\0.*$/s, '').trim();
  if (line === 'stream: OK') return ok({ found: false });
  const found = /^stream: (.+) FOUND$/.exec(line);
  if (found) return ok({ found: true, name: found[1]! });
  if (/size limit exceeded/i.test(line))
    return err({
      code: 'MESSAGE_TOO_LARGE',
      scanner: 'clamav',
      message: `clamd refused the message (${size} bytes) as over its StreamMaxLength: ${line}`,
    });
  if (/ERROR$/.test(line)) return err({ code: 'SCANNER_ERROR', scanner: 'clamav', message: `clamd: ${line}` });
  return err({
    code: 'SCANNER_PROTOCOL_ERROR',
    scanner: 'clamav',
    message: `clamd answered something else: ${JSON.stringify(line.slice(0, 80))}`,
  });
}
