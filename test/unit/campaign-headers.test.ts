import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCampaignHeaders, withoutSmtpApiHeader } from '../../write-side/send/campaign-headers.js';
import { readSubmittedHeaders } from '../../write-side/send/submitted-headers.js';

const read = (head: string) => {
  const headers = readSubmittedHeaders(Buffer.from(`${head}\r\n\r\nbody\r\n`));
  assert.ok(headers.ok);
  return readCampaignHeaders(headers.value.headers);
};

describe("campaign managers' metadata headers", () => {
  it("keeps Listmonk's ids under their keys; Listmonk's header wins over a unique_arg of the same name", () => {
    const campaign = '9f86b50d-5711-41c8-ab03-bc91c43d711b';
    const got = read(
      [
        `X-Listmonk-Campaign: ${campaign}`,
        'x-listmonk-subscriber: 0c6e0a4e-0000-4000-8000-000000000001',
        'X-SMTPAPI: {"unique_args": {"listmonk-campaign": "other", "user": "7"}}',
      ].join('\r\n'),
    );
    assert.ok(got.ok);
    assert.deepEqual(got.value.metadata, {
      'listmonk-campaign': campaign,
      'listmonk-subscriber': '0c6e0a4e-0000-4000-8000-000000000001',
      user: '7',
    });
    assert.equal(got.value.tag, undefined);
    assert.equal(got.value.hasSmtpApi, true);
  });

  it('reads a folded X-SMTPAPI and one sent as encoded-words; a message without one has no metadata', () => {
    const folded = read('X-SMTPAPI: {"unique_args":\r\n  {"a": "1"},\r\n  "category": "news"}');
    assert.ok(folded.ok);
    assert.deepEqual(folded.value, { metadata: { a: '1' }, tag: 'news', hasSmtpApi: true });
    const encoded = read(
      'X-SMTPAPI: =?UTF-8?Q?=7B=22unique=5Fargs=22=3A=7B=22campaign?=\r\n =?UTF-8?Q?=5Fid=22=3A=22c=2El=2Es=22=7D=7D?=',
    );
    assert.ok(encoded.ok, encoded.ok ? '' : encoded.error);
    assert.deepEqual(encoded.value.metadata, { campaign_id: 'c.l.s' });
    assert.deepEqual(read('Subject: x'), { ok: true, value: { metadata: {}, tag: undefined, hasSmtpApi: false } });
  });

  it('takes every line of the X-SMTPAPI field out of the message and leaves every other byte', () => {
    const raw = Buffer.from(
      'From: a@b.test\r\nX-SMTPAPI: {"unique_args":\r\n {"a": "1"}}\r\nX-Other: {"a": 1}\r\n\r\nX-SMTPAPI: body\r\n',
    );
    assert.equal(
      withoutSmtpApiHeader(raw).toString(),
      'From: a@b.test\r\nX-Other: {"a": 1}\r\n\r\nX-SMTPAPI: body\r\n',
    );
    const none = Buffer.from('From: a@b.test\r\n\r\nx\r\n');
    assert.equal(withoutSmtpApiHeader(none), none, 'the same Buffer when there is nothing to take');
  });
});
