import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvCell, csvLine } from '../../infra/http/csv.js';

describe('CSV cells: RFC 4180 quoting and the formula-injection guard', () => {
  it('quotes a cell holding a quote, a comma or a line break, doubling its quotes', () => {
    assert.equal(csvCell('plain text'), 'plain text');
    assert.equal(csvCell('a, b'), '"a, b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell('cr\rhere'), '"cr\rhere"');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(3), '3');
  });

  it("puts ' before a cell a spreadsheet would read as a formula", () => {
    for (const start of ['=', '+', '-', '@', '\t'])
      assert.equal(csvCell(`${start}SUM(A1)`), `'${start}SUM(A1)`, JSON.stringify(start));
    assert.equal(csvCell('=HYPERLINK("http://x","y")'), '"\'=HYPERLINK(""http://x"",""y"")"');
    assert.equal(csvCell('\rx'), `"'\rx"`);
    assert.equal(csvCell('a=b'), 'a=b', 'only at the start');
    assert.equal(csvCell("'quoted already"), "'quoted already");
  });

  it('joins a line with commas and ends it with CRLF', () => {
    assert.equal(csvLine(['1', null, 'x,y', 2]), '1,,"x,y",2\r\n');
  });
});
