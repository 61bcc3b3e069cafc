/**
 * The parsers of inbound reports (domain/policies/reports.ts: RFC 3464 delivery-status, RFC 5965
 * feedback reports, auto-reply detection; bounce-classification.ts: the rule table) on random text
 * and on mutated real-shaped reports. They never throw and answer in bounded time, whatever comes
 * in from the internet; a report changed only in its line ends, blank lines and field-name case
 * classifies as the original; a mutated one is classified or refused (no failed recipient), never
 * half-read into nonsense (an action or status with blanks in it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  classifyBounce,
  enhancedCodeOf,
  isAutoReply,
  parseDeliveryStatus,
  parseFeedbackReport,
} from '../../domain/index.js';
import { fuzzRuns } from '../helpers/fuzz.js';

const DSN = [
  'Reporting-MTA: dns; mx.example.org',
  'Arrival-Date: Sat, 21 Nov 2026 10:00:00 +0000',
  '',
  'Final-Recipient: rfc822; gone@example.org',
  'Original-Recipient: rfc822;gone@example.org',
  'Action: failed',
  'Status: 5.1.1',
  'Remote-MTA: dns; mail.example.org',
  'Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address',
  '    rejected: User unknown',
  '',
  'Final-Recipient: rfc822; slow@example.org',
  'Action: delayed',
  'Status: 4.4.1',
];
const ARF = [
  'Feedback-Type: abuse',
  'User-Agent: SomeGenerator/1.0',
  'Version: 1',
  'Original-Mail-From: <bounce+1@sender.test>',
  'Arrival-Date: Thu, 8 Mar 2026 14:00:00 EDT',
  'Source-IP: 192.0.2.1',
  'Reported-Domain: sender.test',
];

/** Everything the parsers give, each call timed: none may take long on a few kilobytes. */
function readAll(text: string) {
  const started = performance.now();
  const status = parseDeliveryStatus(text);
  const feedback = parseFeedbackReport(text);
  const failed = status.recipients.find((r) => r.action === 'failed');
  const diagnostic = failed?.diagnosticCode ?? text.slice(0, 2000);
  const verdict = classifyBounce(diagnostic, failed?.status ?? enhancedCodeOf(diagnostic));
  const autoReply = isAutoReply(new Map([['auto-submitted', text.slice(0, 200)]]), text.slice(0, 500));
  const ms = performance.now() - started;
  assert.ok(ms < 250, `the parsers took ${Math.round(ms)} ms on ${text.length} characters`);
  for (const r of status.recipients) {
    if (r.action !== undefined) assert.match(r.action, /^\S(.*\S)?$/, 'an action is one trimmed value');
    if (r.status !== undefined) assert.doesNotMatch(r.status, /\s/, 'a status is one word');
  }
  assert.equal(feedback.feedbackType, feedback.feedbackType.toLowerCase());
  assert.ok(feedback.feedbackType.length > 0 || /feedback-type:\s*$/im.test(text));
  return { status, feedback, verdict, autoReply };
}

/** Changes that keep a report's meaning: line ends, extra blanks at line ends, field names' case. */
const harmless = fc.tuple(fc.constantFrom('\r\n', '\n'), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 })).map(
  ([end, upper]) =>
    (lines: string[]) =>
      lines
        .map((l, i) =>
          upper[i % 20]
            ? l.replace(/^[A-Za-z-]+:/, (n) => n.toUpperCase())
            : l.replace(/^[A-Za-z-]+:/, (n) => n.toLowerCase()),
        )
        .join(end),
);

/** Changes that may break a report: characters put in, taken out or replaced, the text cut short. */
const mutation = fc.oneof(
  fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 8 })).map(
    ([at, s]) =>
      (t: string) =>
        t.slice(0, at % (t.length + 1)) + s + t.slice(at % (t.length + 1)),
  ),
  fc.tuple(fc.nat(), fc.nat(40)).map(
    ([at, n]) =>
      (t: string) =>
        t.slice(0, at % (t.length + 1)) + t.slice((at % (t.length + 1)) + n),
  ),
  fc.nat().map((at) => (t: string) => t.slice(0, at % (t.length + 1))),
  fc.tuple(fc.nat(), fc.constantFrom('\n', '\r', '\r\n', '\n\n', ' ', '\t', ':', ';', '\u0000')).map(
    ([at, s]) =>
      (t: string) =>
        t.slice(0, at % (t.length + 1)) + s + t.slice(at % (t.length + 1)),
  ),
);

describe('fuzz: inbound report parsers', () => {
  it('a DSN or ARF report changed only in line ends and name case reads as the original', () => {
    const original = readAll(DSN.join('\r\n'));
    const originalArf = readAll(ARF.join('\r\n'));
    assert.equal(original.verdict.category, 'bad-mailbox', 'the reference classifies');
    fc.assert(
      fc.property(harmless, (rewrite) => {
        const dsn = readAll(rewrite(DSN));
        assert.deepEqual(dsn.status, original.status);
        assert.deepEqual(dsn.verdict, original.verdict);
        assert.deepEqual(readAll(rewrite(ARF)).feedback, originalArf.feedback);
      }),
      fuzzRuns(300),
    );
  });

  it('mutated reports never throw: classified, or refused for want of a failed recipient', () => {
    fc.assert(
      fc.property(fc.constantFrom(DSN, ARF), fc.array(mutation, { maxLength: 6 }), (report, mutations) => {
        const text = mutations.reduce((t, m) => m(t), report.join('\r\n'));
        const { status, verdict } = readAll(text);
        const failed = status.recipients.find((r) => r.action === 'failed');
        if (failed?.status) assert.match(failed.status, /^\S+$/);
        assert.equal(typeof verdict.suppress, 'boolean');
      }),
      fuzzRuns(2000),
    );
  });

  it('random text and long runs of blanks, line ends and field-like noise finish quickly', () => {
    const noise = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .tuple(
          fc.constantFrom('\n', ' ', '\r\n', 'a:', '5.1.', '\t', ';', 'Status: ', '550 ', 'x'),
          fc.integer({ min: 1, max: 20_000 }),
        )
        .map(([s, n]) => s.repeat(n)),
    );
    fc.assert(
      fc.property(fc.array(noise, { minLength: 1, maxLength: 4 }), (parts) => {
        readAll(parts.join(''));
      }),
      fuzzRuns(300),
    );
  });
});
