import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClamdAnswer } from '../../infra/scanning/clamd.js';
import { parseSpamdAnswer } from '../../infra/scanning/spamd.js';
import { holdDetail } from '../../write-side/send/outbound-spam-check.js';

/** The answers as the daemons write them (copied from spamd 4.0.1 and clamd 1.4.6), and the odd ones. */
describe('spamd answers', () => {
  const report = [
    'SPAMD/1.1 0 EX_OK',
    'Content-length: 120',
    'Spam: True ; 1003.3 / 5.0',
    '',
    'Content analysis details:   (1003.3 points, 5.0 required)',
    '',
    ' pts rule name              description',
    '---- ---------------------- --------------------------------------------------',
    ' 0.6 MISSING_MID            Missing Message-Id: header',
    '-0.0 NO_RECEIVED            Informational: message has no Received headers',
    '1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email',
    '',
  ].join('\r\n');

  it('reads the verdict from the Spam header and each rule with its points from the report', () => {
    const r = parseSpamdAnswer(report);
    assert.ok(r.ok);
    assert.deepEqual(r.value, {
      score: 1003.3,
      threshold: 5,
      isSpam: true,
      symbols: [
        { name: 'MISSING_MID', score: 0.6 },
        { name: 'NO_RECEIVED', score: -0 },
        { name: 'GTUBE', score: 1000 },
      ],
    });
  });

  it('a ham answer, a negative score', () => {
    const r = parseSpamdAnswer('SPAMD/1.1 0 EX_OK\r\nSpam: False ; -1.2 / 5.0\r\n\r\n');
    assert.ok(r.ok);
    assert.deepEqual([r.value.isSpam, r.value.score, r.value.symbols], [false, -1.2, []]);
  });

  it('an error status is SCANNER_ERROR; anything else is SCANNER_PROTOCOL_ERROR', () => {
    const e = parseSpamdAnswer('SPAMD/1.0 76 Bad header line: (EOF)\r\n');
    assert.ok(!e.ok && e.error.code === 'SCANNER_ERROR' && /76/.test(e.error.message));
    for (const text of ['HTTP/1.1 400 Bad Request\r\n\r\n', 'SPAMD/1.1 0 EX_OK\r\n\r\n', '']) {
      const r = parseSpamdAnswer(text);
      assert.ok(!r.ok && r.error.code === 'SCANNER_PROTOCOL_ERROR', JSON.stringify(text));
    }
  });
});

describe('clamd answers', () => {
  it('OK, FOUND with the name, the size limit, an error, something else', () => {
    assert.deepEqual(parseClamdAnswer('stream: OK\0', 10), { ok: true, value: { found: false } });
    assert.deepEqual(parseClamdAnswer('stream: Eicar-Test-Signature FOUND\0', 10), {
      ok: true,
      value: { found: true, name: 'Eicar-Test-Signature' },
    });
    const big = parseClamdAnswer('INSTREAM size limit exceeded. ERROR\0', 99);
    assert.ok(!big.ok && big.error.code === 'MESSAGE_TOO_LARGE' && /99 bytes/.test(big.error.message));
    const error = parseClamdAnswer("stream: Can't allocate memory ERROR\0", 10);
    assert.ok(!error.ok && error.error.code === 'SCANNER_ERROR');
    const other = parseClamdAnswer('PONG\0', 10);
    assert.ok(!other.ok && other.error.code === 'SCANNER_PROTOCOL_ERROR');
  });
});

describe('the hold detail of the outbound spam check', () => {
  it('names the symbols that scored most, first, and cuts the list at five', () => {
    const symbols = ['A', 'B', 'C', 'D', 'E', 'F'].map((name, i) => ({ name, score: i + 1 }));
    assert.equal(
      holdDetail(12.34, 5, [...symbols, { name: 'NEG', score: -1 }]),
      'spam score 12.3 ≥ 5.0: F, E, D, C, B, …',
    );
  });

  it("rspamd's GTUBE scores 0 (its action decides): it is still named", () => {
    assert.equal(holdDetail(15, 5, [{ name: 'GTUBE', score: 0 }]), 'spam score 15.0 ≥ 5.0: GTUBE');
    assert.equal(holdDetail(6, 5, []), 'spam score 6.0 ≥ 5.0');
  });
});
