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
 * may still be writing: that is MESSAGE_TOO_LARGE, not a broken connection). Now and then our write
 * into the reset connection fails before we have read that answer, and Node drops it with the socket
 * (about 1 in 30 on a loaded machine): a reset while we still send is then MESSAGE_TOO_LARGE too,
 * when clamd still answers PING. A clamd that died mid-stream does not, and is not taken for a
 * message too large (that would let the message through unscanned under POSTLOG_SCAN_FAILURE=tempfail).
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
      whenResetWhileSending: (sent) => this.resetWhileSending(raw.length, sent, started),
    });
    if (!answer.ok) return answer;
    const virus = parseClamdAnswer(answer.value.toString('utf8'), raw.length);
    if (!virus.ok) return virus;
    return ok({ scanner: this.name, virus: virus.value, durationMs: Math.round(performance.now() - started) });
  }

  /** clamd reset the connection after `sent` bytes, its answer unread: past its StreamMaxLength if it is alive. */
  private async resetWhileSending(size: number, sent: number, started: number): Promise<Result<Buffer, ScanError>> {
    const ping = await exchange({
      scanner: this.name,
      address: this.address,
      request: [Buffer.from('zPING\0')],
      timeoutMs: Math.max(1, this.limits.timeoutMs - (performance.now() - started)),
      maxAnswerBytes: 64,
    });
    if (!ping.ok) return ping;
    if (!ping.value.toString('utf8').startsWith('PONG'))
      return err({
        code: 'SCANNER_PROTOCOL_ERROR',
        scanner: this.name,
        message: `clamd reset the connection after ${sent} of the message's ${size} bytes and does not answer PING`,
      });
    return err({
      code: 'MESSAGE_TOO_LARGE',
      scanner: this.name,
      message:
        `clamd refused the message (${size} bytes) as over its StreamMaxLength: it reset the connection ` +
        `after ${sent} bytes (its answer was lost with it) and answers PING`,
    });
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
