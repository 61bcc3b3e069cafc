import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { certificateFailureType, mxMatchesPolicy, parseStsPolicy, parseStsRecord } from '../../domain/index.js';

describe('MTA-STS records and policies (RFC 8461)', () => {
  it('reads the id of exactly one STSv1 TXT record', () => {
    assert.deepEqual(parseStsRecord(['v=STSv1; id=20160831085700Z;']), { id: '20160831085700Z' });
    assert.deepEqual(parseStsRecord(['some other record', 'v=STSv1;id=abc']), { id: 'abc' });
    assert.equal(parseStsRecord([]), undefined);
    assert.equal(parseStsRecord(['v=STSv1; id=a', 'v=STSv1; id=b']), undefined, 'two records: none');
    assert.equal(parseStsRecord(['v=STSv1; id=not-alnum']), undefined);
    assert.equal(parseStsRecord(['v=STSv1;']), undefined, 'no id');
  });

  it('parses a policy file with CRLF or LF lines, several mx lines, and says what is wrong', () => {
    const ok = parseStsPolicy(
      'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n',
    );
    assert.deepEqual(ok, {
      ok: true,
      value: { mode: 'enforce', mx: ['mail.example.com', '*.example.net'], maxAge: 604800 },
    });
    assert.equal(parseStsPolicy('version: STSv1\nmode: none\nmax_age: 10\n').ok, true, 'mode none needs no mx');
    const capped = parseStsPolicy('version: STSv1\nmode: testing\nmx: a.example\nmax_age: 99999999999\n');
    assert.equal(capped.ok, false, 'more than 10 digits is not a max_age');
    const big = parseStsPolicy('version: STSv1\nmode: testing\nmx: a.example\nmax_age: 9999999999\n');
    assert.equal(big.ok && big.value.maxAge, 31_557_600, 'capped at a year');
    for (const [text, error] of [
      ['version: STSv2\nmode: enforce\nmx: a\nmax_age: 1', /version/],
      ['version: STSv1\nmode: strict\nmx: a\nmax_age: 1', /mode/],
      ['version: STSv1\nmode: enforce\nmax_age: 1', /no mx/],
      ['version: STSv1\nmode: enforce\nmx: a\nmax_age: soon', /max_age/],
      ['<html>not a policy</html>', /key: value/],
    ] as const) {
      const r = parseStsPolicy(text);
      assert.equal(r.ok, false, text);
      if (!r.ok) assert.match(r.error, error);
    }
  });

  it('matches MX hosts: exactly, or a wildcard for one leftmost label', () => {
    assert.equal(mxMatchesPolicy('mail.example.com', ['mail.example.com']), true);
    assert.equal(mxMatchesPolicy('MAIL.Example.com.', ['mail.example.com']), true);
    assert.equal(mxMatchesPolicy('mx1.example.net', ['*.example.net']), true);
    assert.equal(mxMatchesPolicy('a.b.example.net', ['*.example.net']), false, 'one label only');
    assert.equal(mxMatchesPolicy('example.net', ['*.example.net']), false);
    assert.equal(mxMatchesPolicy('evil.com', ['mail.example.com', '*.example.net']), false);
  });

  it('names certificate errors as RFC 8460 result types', () => {
    assert.equal(certificateFailureType('ERR_TLS_CERT_ALTNAME_INVALID'), 'certificate-host-mismatch');
    assert.equal(certificateFailureType('CERT_HAS_EXPIRED'), 'certificate-expired');
    assert.equal(certificateFailureType('DEPTH_ZERO_SELF_SIGNED_CERT'), 'certificate-not-trusted');
    assert.equal(certificateFailureType('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'certificate-not-trusted');
    assert.equal(certificateFailureType('SOMETHING_ELSE'), 'validation-failure');
  });
});
