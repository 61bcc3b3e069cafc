import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BounceClassification } from '../../domain/index.js';
import { evaluateBounceCorpus, formatCorpusReport, loadBounceCorpus } from '../helpers/bounce-corpus.js';

/**
 * The rule table (domain/policies/bounce-rules.ts) measured against test/fixtures/bounce-corpus.yaml:
 * replies, reports and bounce mails as the large providers and the common MTAs word them, each with
 * the class a person reading it would give. The report (accuracy per class and provider, confusion
 * matrix, misses) is printed as the test's diagnostic; `npm run bench -- bounce-corpus` prints it too.
 */
describe('bounce classification corpus', () => {
  const entries = loadBounceCorpus();
  const report = evaluateBounceCorpus(entries);

  it('is large and varied enough to measure: 300 entries or more, every class, replies and reports', (t) => {
    t.diagnostic(formatCorpusReport(report));
    assert.ok(entries.length >= 300, `${entries.length} entries`);
    assert.ok(report.perProvider.size >= 15, `${report.perProvider.size} providers`);
    for (const c of BounceClassification.options) assert.ok(report.perClass.has(c), `no entry of class ${c}`);
    for (const kind of ['reply', 'dsn', 'mail'] as const)
      assert.ok(entries.filter((e) => e.kind === kind).length >= 5, `few entries of kind ${kind}`);
  });

  it('classifies at least 98 % of the corpus as expected', () => {
    const accuracy = report.overall.correct / report.overall.total;
    assert.ok(
      accuracy >= 0.98,
      `accuracy ${(100 * accuracy).toFixed(1)} %; misses:\n${report.misses
        .map((m) => `${m.provider}: expected ${m.expected}, got ${m.verdict.category}: ${m.text.slice(0, 120)}`)
        .join('\n')}`,
    );
  });

  it('never makes a 5.7.x (policy) code a bad mailbox: that would suppress a good address', () => {
    assert.ok(
      report.results.filter((r) => r.verdict.enhancedCode?.startsWith('5.7.')).length >= 50,
      'the corpus has many 5.7.x codes',
    );
    assert.deepEqual(
      report.policyCodesAsBadMailbox.map((r) => `${r.provider}: ${r.text.slice(0, 100)}`),
      [],
    );
  });

  it('suppresses only bad mailboxes, and only on a permanent failure', () => {
    for (const r of report.results) {
      if (!r.verdict.suppress) continue;
      assert.equal(r.verdict.category, 'bad-mailbox', r.text);
      assert.ok(!r.verdict.enhancedCode?.startsWith('4.'), `a transient failure suppresses: ${r.text}`);
    }
  });
});
