import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseDmarcReportXml } from '../../domain/index.js';
import { reportAttachmentKind, reportXmlOf } from '../../mta/inbound/dmarc-report-archive.js';
import { zipOf } from '../helpers/zip-archive.js';

const report = (root: string, records: string) => `<?xml version="1.0"?>
${root}
  <report_metadata><org_name>Yahoo</org_name><report_id>1765&amp;2</report_id>
    <date_range><begin>1764979200</begin><end>1765065599</end></date_range></report_metadata>
  <policy_published><domain>Acme.Test</domain><adkim></adkim><p>reject</p><sp></sp><pct>50</pct></policy_published>
  ${records}
</feedback>`;
const record = `<record><row><source_ip>2001:db8::5</source_ip><count>3</count>
  <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>softfail</spf></policy_evaluated></row>
  <identifiers><header_from>acme.test</header_from></identifiers><auth_results></auth_results></record>`;

describe('DMARC aggregate report XML', () => {
  it('reads a DMARCbis-namespaced report with one record, empty elements and an entity', () => {
    const r = parseDmarcReportXml(report('<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">', record));
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.value.reportId, '1765&2');
    assert.deepEqual(r.value.policy, { domain: 'acme.test', p: 'reject', pct: 50 });
    assert.deepEqual(r.value.records, [
      {
        sourceIp: '2001:db8::5',
        count: 3,
        disposition: 'reject',
        dkim: 'fail',
        spf: 'fail',
        headerFrom: 'acme.test',
        dkimResults: [],
        spfResults: [],
      },
    ]);
  });

  it('refuses what is not a report, naming why', () => {
    const bad = (xml: string) => {
      const r = parseDmarcReportXml(xml);
      assert.ok(!r.ok);
      return r.error.reason;
    };
    assert.equal(bad('<html><body>hi</body></html>'), 'invalid-report');
    assert.equal(bad(report('<feedback>', record.replace('2001:db8::5', 'not-an-ip'))), 'invalid-report');
    assert.equal(bad('<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><feedback/>'), 'entities-refused');
  });

  it('tells archives apart by name, then by type, and refuses what is not one', async () => {
    assert.equal(reportAttachmentKind('r.xml.gz', 'application/octet-stream'), 'gzip');
    assert.equal(reportAttachmentKind('r', 'application/gzip'), 'gzip');
    assert.equal(reportAttachmentKind('r', 'application/x-zip-compressed'), 'zip');
    assert.equal(reportAttachmentKind('logo.png', 'image/png'), undefined);
    assert.deepEqual(await reportXmlOf('gzip', gzipSync(Buffer.from('<feedback/>'))), {
      ok: true,
      value: '<feedback/>',
    });
    assert.equal((await reportXmlOf('gzip', gzipSync(Buffer.alloc(2048, 'a')), 1024)).ok, false);
    const notZip = await reportXmlOf('zip', Buffer.from('PK but not really'));
    assert.ok(!notZip.ok && notZip.error.reason === 'bad-archive');
    assert.deepEqual(await reportXmlOf('zip', zipOf('report.xml', Buffer.from('<feedback/>'))), {
      ok: true,
      value: '<feedback/>',
    });
    const noXml = await reportXmlOf('zip', zipOf('notes.txt', Buffer.from('no report')));
    assert.ok(!noXml.ok && /no \.xml file/.test(noXml.error.message), JSON.stringify(noXml));
    const big = await reportXmlOf('zip', zipOf('big.xml', Buffer.alloc(4096, 'a')), 1024);
    assert.ok(!big.ok && big.error.reason === 'too-large', JSON.stringify(big));
    // a bomb whose headers claim 100 bytes: cut off at the limit, never inflated in full
    const liar = await reportXmlOf('zip', zipOf('liar.xml', Buffer.alloc(8 * 1024 * 1024, 'a'), 100), 1024);
    assert.ok(!liar.ok, JSON.stringify(liar));
  });
});
