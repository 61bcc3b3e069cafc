/**
 * The bounce classification corpus (test/fixtures/bounce-corpus.yaml): loaded and validated, each
 * entry classified the way Postlog meets it (an SMTP reply through the MTA's reply parser and the
 * rule table; a returned report through the inbound path's report reading; a report-less bounce
 * mail through its text), and the results counted: accuracy overall, per class and per provider,
 * and the confusion matrix. Used by test/core/bounce-corpus.test.ts and `npm run bench -- bounce-corpus`.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  BounceClassification,
  bounceMailVerdict,
  type BounceVerdict,
  classifyBounce,
  deliveryReportVerdict,
} from '../../domain/index.js';
import { parseReply } from '../../mta/smtp/smtp-session.js';

// compiled to dist/test/helpers: the sources are three folders up
export const bounceCorpusPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../test/fixtures/bounce-corpus.yaml',
);

const Reply = z.tuple([BounceClassification, z.string().min(5)]);
const Report = z.object({ class: BounceClassification, dsn: z.string().min(10), subject: z.string().optional() });
const Mail = z.object({ class: BounceClassification, subject: z.string(), body: z.string().min(10) });
export const BounceCorpusFile = z.record(
  z.string().regex(/^[a-z][a-z0-9-]*$/),
  z.array(z.union([Reply, Report.strict(), Mail.strict()])).min(1),
);

export type BounceClass = z.infer<typeof BounceClassification>;
export interface CorpusEntry {
  provider: string;
  kind: 'reply' | 'dsn' | 'mail';
  expected: BounceClass;
  /** The reply, report or mail text, for reports of misses. */
  text: string;
}
export interface CorpusResult extends CorpusEntry {
  verdict: BounceVerdict;
}

export function loadBounceCorpus(path = bounceCorpusPath): CorpusEntry[] {
  const file = BounceCorpusFile.parse(parse(readFileSync(path, 'utf8')));
  return Object.entries(file).flatMap(([provider, items]) =>
    items.map((item): CorpusEntry => {
      if (Array.isArray(item)) return { provider, kind: 'reply', expected: item[0], text: item[1] };
      if ('dsn' in item) return { provider, kind: 'dsn', expected: item.class, text: item.dsn };
      return { provider, kind: 'mail', expected: item.class, text: `${item.subject}\n${item.body}` };
    }),
  );
}

/** What Postlog makes of one entry, by the path such a text takes through it. */
export function classifyCorpusEntry(entry: CorpusEntry): BounceVerdict {
  if (entry.kind === 'reply') {
    const reply = parseReply(entry.text);
    return classifyBounce(reply.text, reply.enhancedCode);
  }
  if (entry.kind === 'dsn') {
    const report = deliveryReportVerdict(entry.text, 'Undelivered Mail Returned to Sender');
    return report.kind === 'failed' ? report.verdict : { category: 'other', suppress: false };
  }
  const [subject, ...body] = entry.text.split('\n');
  return bounceMailVerdict(subject!, body.join('\n'));
}

export interface Tally {
  total: number;
  correct: number;
}
export interface CorpusReport {
  results: CorpusResult[];
  overall: Tally;
  perClass: Map<BounceClass, Tally>;
  perProvider: Map<string, Tally>;
  /** expected → classified as → count */
  confusion: Map<BounceClass, Map<BounceClass, number>>;
  misses: CorpusResult[];
  /** A 5.7.x code that came out as a bad mailbox (suppressing a good address): must stay empty. */
  policyCodesAsBadMailbox: CorpusResult[];
}

const tallyOf = (m: Map<string, Tally>, key: string) => {
  let t = m.get(key);
  if (!t) m.set(key, (t = { total: 0, correct: 0 }));
  return t;
};

export function evaluateBounceCorpus(entries: CorpusEntry[]): CorpusReport {
  const results = entries.map((e) => ({ ...e, verdict: classifyCorpusEntry(e) }));
  const overall = { total: 0, correct: 0 };
  const perClass = new Map<BounceClass, Tally>();
  const perProvider = new Map<string, Tally>();
  const confusion = new Map<BounceClass, Map<BounceClass, number>>();
  for (const r of results) {
    const ok = r.verdict.category === r.expected ? 1 : 0;
    for (const t of [overall, tallyOf(perClass, r.expected), tallyOf(perProvider, r.provider)]) {
      t.total += 1;
      t.correct += ok;
    }
    const row = confusion.get(r.expected) ?? new Map<BounceClass, number>();
    row.set(r.verdict.category, (row.get(r.verdict.category) ?? 0) + 1);
    confusion.set(r.expected, row);
  }
  return {
    results,
    overall,
    perClass,
    perProvider,
    confusion,
    misses: results.filter((r) => r.verdict.category !== r.expected),
    policyCodesAsBadMailbox: results.filter(
      (r) => r.verdict.enhancedCode?.startsWith('5.7.') && (r.verdict.category === 'bad-mailbox' || r.verdict.suppress),
    ),
  };
}

const percent = (t: Tally) => `${((100 * t.correct) / t.total).toFixed(1)} %`;

/** The report as text: accuracy, per class, per provider, the confusion matrix and the misses. */
export function formatCorpusReport(report: CorpusReport): string {
  const classes = BounceClassification.options;
  const short = (c: string) => c.slice(0, 8);
  const lines = [
    `bounce corpus: ${report.overall.correct}/${report.overall.total} classified as expected ` +
      `(${percent(report.overall)})`,
    '',
    'per class:',
    ...[...report.perClass].map(
      ([c, t]) => `  ${c.padEnd(14)} ${`${t.correct}/${t.total}`.padStart(7)}  ${percent(t)}`,
    ),
    '',
    'per provider:',
    ...[...report.perProvider].map(
      ([p, t]) => `  ${p.padEnd(18)} ${`${t.correct}/${t.total}`.padStart(7)}  ${percent(t)}`,
    ),
    '',
    'confusion matrix (rows: expected, columns: classified as):',
    `  ${''.padEnd(14)}${classes.map((c) => short(c).padStart(9)).join('')}`,
    ...classes
      .filter((c) => report.confusion.has(c))
      .map(
        (c) =>
          `  ${c.padEnd(14)}${classes.map((a) => String(report.confusion.get(c)?.get(a) ?? '.').padStart(9)).join('')}`,
      ),
    '',
    `misses (${report.misses.length}):`,
    ...report.misses.map(
      (m) =>
        `  ${m.provider} ${m.kind}: expected ${m.expected}, got ${m.verdict.category}: ` +
        m.text.replace(/\s+/g, ' ').slice(0, 140),
    ),
  ];
  return lines.join('\n');
}
