import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTlsRptRecord, tlsReport, tlsReportFilename } from '../../domain/index.js';

describe('parseTlsRptRecord (RFC 8460 §3)', () => {
  it('reads the rua list of the one TLSRPTv1 record, mailto: and https: only', () => {
    assert.deepEqual(
      parseTlsRptRecord(['v=spf1 -all', 'v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.com/x,ftp://no']),
      ['mailto:a@example.com', 'https://r.example.com/x'],
    );
    assert.deepEqual(parseTlsRptRecord(['v=TLSRPTv1;rua=mailto:tls%2Br@example.com']), ['mailto:tls%2Br@example.com']);
  });
  it('none, several or a record without rua: no reports', () => {
    assert.deepEqual(parseTlsRptRecord([]), []);
    assert.deepEqual(parseTlsRptRecord(['v=TLSRPTv1; rua=mailto:a@x.test', 'v=TLSRPTv1; rua=mailto:b@x.test']), []);
    assert.deepEqual(parseTlsRptRecord(['v=TLSRPTv1']), []);
    assert.deepEqual(parseTlsRptRecord(['v=TLSRPTv10; rua=mailto:a@x.test']), []);
  });
});

describe('tlsReport (RFC 8460 §4)', () => {
  it('a policy per count row, failures by result type in a stable order', () => {
    const report = tlsReport({
      policyDomain: 'example.com',
      day: '2026-12-05',
      organizationName: 'Org',
      contactInfo: 'tlsrpt@sender.example',
      reportId: 'id-1',
      counts: [
        {
          policyType: 'sts',
          policyId: 'p1',
          mode: 'enforce',
          successes: 9,
          failures: 3,
          failureTypes: { 'certificate-not-trusted': 1, 'certificate-expired': 2 },
        },
      ],
    });
    assert.deepEqual(report, {
      'organization-name': 'Org',
      'date-range': { 'start-datetime': '2026-12-05T00:00:00Z', 'end-datetime': '2026-12-05T23:59:59Z' },
      'contact-info': 'tlsrpt@sender.example',
      'report-id': 'id-1',
      policies: [
        {
          policy: { 'policy-type': 'sts', 'policy-domain': 'example.com' },
          summary: { 'total-successful-session-count': 9, 'total-failure-session-count': 3 },
          'failure-details': [
            { 'result-type': 'certificate-expired', 'failed-session-count': 2 },
            { 'result-type': 'certificate-not-trusted', 'failed-session-count': 1 },
          ],
        },
      ],
    });
    assert.equal(
      tlsReportFilename('mx.sender', 'example.com', '1970-01-02'),
      'mx.sender!example.com!86400!172799.json.gz',
    );
  });

  it("an MTA-STS policy whose text is known: policy-string (the file's lines) and mx-host (its patterns)", () => {
    const counts = (policyType: 'sts' | 'tlsa', policyText: string) => ({
      policyType,
      policyId: 'p1',
      mode: 'enforce',
      successes: 1,
      failures: 0,
      failureTypes: {},
      policyText,
    });
    const policyOf = (c: ReturnType<typeof counts>) =>
      tlsReport({
        policyDomain: 'example.com',
        day: '2026-12-05',
        organizationName: 'O',
        contactInfo: 'c',
        reportId: 'r',
        counts: [c],
      }).policies[0]!.policy;
    const text =
      'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\n\r\nmax_age: 86400\r\n';
    assert.deepEqual(policyOf(counts('sts', text)), {
      'policy-type': 'sts',
      'policy-string': [
        'version: STSv1',
        'mode: enforce',
        'mx: mx1.example.com',
        'mx: *.example.net',
        'max_age: 86400',
      ],
      'mx-host': ['mx1.example.com', '*.example.net'],
      'policy-domain': 'example.com',
    });
    // a file that does not parse was applied as no policy: its lines, no patterns
    assert.deepEqual(policyOf(counts('sts', 'version: STSv1\nmode: enforce\n')), {
      'policy-type': 'sts',
      'policy-string': ['version: STSv1', 'mode: enforce'],
      'policy-domain': 'example.com',
    });
    // DANE's records are not kept: whatever text a tlsa row carried is not reported as its policy
    assert.deepEqual(policyOf(counts('tlsa', text)), { 'policy-type': 'tlsa', 'policy-domain': 'example.com' });
  });
});
