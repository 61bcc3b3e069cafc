/**
 * `npm run bench -- bounce-corpus`: classifies every entry of test/fixtures/bounce-corpus.yaml and
 * prints accuracy per class and per provider, the confusion matrix and the misses on stderr; the
 * JSON line has the figures and whether the target (≥ 98 %, no 5.7.x code as a bad mailbox) is met.
 */
import { evaluateBounceCorpus, formatCorpusReport, loadBounceCorpus } from '../test/helpers/bounce-corpus.js';

export async function run() {
  const report = evaluateBounceCorpus(loadBounceCorpus());
  process.stderr.write(`${formatCorpusReport(report)}\n`);
  const accuracy = report.overall.correct / report.overall.total;
  return {
    bench: 'bounce-corpus',
    entries: report.overall.total,
    correct: report.overall.correct,
    accuracy: Number(accuracy.toFixed(4)),
    perClass: Object.fromEntries([...report.perClass].map(([c, t]) => [c, `${t.correct}/${t.total}`])),
    policyCodesAsBadMailbox: report.policyCodesAsBadMailbox.length,
    target: { accuracy: 0.98, policyCodesAsBadMailbox: 0 },
    met: accuracy >= 0.98 && report.policyCodesAsBadMailbox.length === 0,
  };
}
