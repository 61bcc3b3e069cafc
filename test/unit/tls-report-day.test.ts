import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  TLS_REPORT_LOOKUP_TRIES,
  tlsReportDaySettled,
  type TlsReportOutcome,
  type TlsReportRun,
} from '../../write-side/tls-reports/send-tls-reports.js';

const outcome = (status: TlsReportOutcome['status'], rua = 'mailto:r@x.test'): TlsReportOutcome => ({
  policyDomain: 'x.test',
  rua,
  reportId: 'id',
  status,
  detail: '',
});
const run = (...outcomes: TlsReportOutcome[]): TlsReportRun => ({
  ran: true,
  day: '2026-12-06',
  domains: 2,
  outcomes,
  reports: [],
});

describe('tlsReportDaySettled: when the daily TLS-RPT run lets its day go', () => {
  it('every report sent or done before: at once; a run that did not run or found no counts: not', () => {
    assert.deepEqual(tlsReportDaySettled(run(outcome('sent'), outcome('done-before')), 0), {
      settled: true,
      lookupRuns: 0,
    });
    assert.equal(tlsReportDaySettled({ ...run(), ran: false }, 0).settled, false);
    assert.equal(tlsReportDaySettled({ ...run(), domains: 0 }, 0).settled, false);
  });

  it('a failed send keeps the day open (its claims stop it after three tries)', () => {
    assert.equal(tlsReportDaySettled(run(outcome('failed'), outcome('failed', '')), 5).settled, false);
    assert.equal(tlsReportDaySettled(run(outcome('skipped')), 0).settled, false);
  });

  it(`a record without an answer: asked again by later runs, ${TLS_REPORT_LOOKUP_TRIES} in all`, () => {
    let lookupRuns = 0;
    const settledAfter: boolean[] = [];
    for (let i = 0; i < TLS_REPORT_LOOKUP_TRIES; i++) {
      const after = tlsReportDaySettled(run(outcome('sent'), outcome('failed', '')), lookupRuns);
      lookupRuns = after.lookupRuns;
      settledAfter.push(after.settled);
    }
    assert.deepEqual(settledAfter, [...Array(TLS_REPORT_LOOKUP_TRIES - 1).fill(false), true]);
  });
});
