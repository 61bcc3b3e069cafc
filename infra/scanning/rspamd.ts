import http from 'node:http';
import { z } from 'zod';
import { err, ok, type Result } from '../../domain/result.js';
import {
  tooLarge,
  type MessageScanner,
  type ScanContext,
  type ScanError,
  type ScannerLimits,
  type Verdict,
} from './verdict.js';

/** The part of rspamd's /checkv2 answer we read. */
const CheckV2Answer = z.object({
  score: z.number(),
  required_score: z.number(),
  action: z.string(),
  symbols: z.record(z.string(), z.object({ score: z.number().default(0) })).default({}),
});

/** rspamd's actions that mean "spam" (greylist and soft reject are about rates, not content). */
const SPAM_ACTIONS = new Set(['reject', 'add header', 'rewrite subject']);

const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * rspamd's normal worker (port 11333 by default): HTTP `POST /checkv2` with the message as the body
 * and what we know of the envelope as headers (From, Rcpt, IP, Helo); the answer is JSON with the
 * score, required_score (rspamd's reject threshold), the action and the symbols that hit.
 */
export class RspamdScanner implements MessageScanner {
  readonly name = 'rspamd' as const;
  private readonly url: URL;

  constructor(
    url: string,
    private readonly limits: ScannerLimits,
  ) {
    this.url = new URL('/checkv2', url);
  }

  async scan(raw: Buffer, context: ScanContext = {}): Promise<Result<Verdict, ScanError>> {
    const started = performance.now();
    if (raw.length > this.limits.maxMessageBytes) return tooLarge(this.name, raw.length, this.limits.maxMessageBytes);
    const answer = await this.post(raw, envelopeHeaders(context));
    if (!answer.ok) return answer;
    const fail = (message: string) => err({ code: 'SCANNER_PROTOCOL_ERROR' as const, scanner: this.name, message });
    if (answer.value.status !== 200)
      return err({
        code: 'SCANNER_ERROR',
        scanner: this.name,
        message: `rspamd answered HTTP ${answer.value.status}: ${answer.value.body.slice(0, 200)}`,
      });
    let json: unknown;
    try {
      json = JSON.parse(answer.value.body);
    } catch {
      return fail(`rspamd answered something other than JSON: ${JSON.stringify(answer.value.body.slice(0, 80))}`);
    }
    const parsed = CheckV2Answer.safeParse(json);
    if (!parsed.success) return fail(`rspamd's answer lacks score, required_score or action`);
    const a = parsed.data;
    return ok({
      scanner: this.name,
      spam: {
        score: a.score,
        threshold: a.required_score,
        symbols: Object.entries(a.symbols).map(([name, s]) => ({ name, score: s.score })),
        isSpam: SPAM_ACTIONS.has(a.action),
        action: a.action,
      },
      durationMs: Math.round(performance.now() - started),
    });
  }

  private post(
    body: Buffer,
    headers: Record<string, string | string[]>,
  ): Promise<Result<{ status: number; body: string }, ScanError>> {
    const where = this.url.origin;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: Result<{ status: number; body: string }, ScanError>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.destroy();
        resolve(r);
      };
      const fail = (code: ScanError['code'], message: string) => finish(err({ code, scanner: this.name, message }));
      const request = http.request(this.url, {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(body.length), Connection: 'close' },
        agent: false,
      });
      const timer = setTimeout(
        () => fail('SCANNER_TIMEOUT', `rspamd at ${where} did not answer within ${this.limits.timeoutMs} ms`),
        this.limits.timeoutMs,
      );
      request.on('error', (e: NodeJS.ErrnoException) =>
        fail(
          e.code === 'ECONNRESET' || e.code === 'HPE_INVALID_CONSTANT'
            ? 'SCANNER_PROTOCOL_ERROR'
            : 'SCANNER_UNREACHABLE',
          `rspamd at ${where}: ${e.code ?? e.message}`,
        ),
      );
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES)
            return fail('SCANNER_PROTOCOL_ERROR', `rspamd at ${where} answered more than ${MAX_ANSWER_BYTES} bytes`);
          chunks.push(chunk);
        });
        response.on('end', () =>
          finish(ok({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })),
        );
        response.on('error', (e) => fail('SCANNER_PROTOCOL_ERROR', `rspamd at ${where}: ${e.message}`));
      });
      request.end(body);
    });
  }
}

/** rspamd's request headers for the envelope; values with line breaks are left out (no header injection). */
function envelopeHeaders(context: ScanContext): Record<string, string | string[]> {
  const safe = (v: string | undefined) => v !== undefined && v.length > 0 && !/[\r\n]/.test(v);
  const headers: Record<string, string | string[]> = {};
  if (safe(context.from)) headers.From = context.from!;
  const rcpt = (context.rcpt ?? []).filter(safe);
  if (rcpt.length > 0) headers.Rcpt = rcpt;
  if (safe(context.ip)) headers.IP = context.ip!;
  if (safe(context.helo)) headers.Helo = context.helo!;
  return headers;
}
