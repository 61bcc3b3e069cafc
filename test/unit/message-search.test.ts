import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

// compiled to dist/test/unit; the dashboard's sources stay in dashboard/src, and Node reads this
// TypeScript file itself (type stripping: it imports nothing)
const source = resolve(dirname(fileURLToPath(import.meta.url)), '../../../dashboard/src/message-search.ts');
type Filters = Record<string, string>;
const { parseSearch, searchText } = (await import(pathToFileURL(source).href)) as {
  parseSearch: (text: string) => { ok: true; filters: Filters } | { ok: false; message: string };
  searchText: (filters: Filters) => string;
};

const filters = (text: string) => {
  const parsed = parseSearch(text);
  assert.ok(parsed.ok, `${text}: ${parsed.ok ? '' : parsed.message}`);
  return parsed.filters;
};
const refusal = (text: string) => {
  const parsed = parseSearch(text);
  assert.ok(!parsed.ok, `${text} is refused`);
  return parsed.message;
};

describe("the dashboard's search box: Postal's search syntax into the list API's parameters", () => {
  it('reads every prefix into its parameter', () => {
    assert.deepEqual(filters('from:a@b.com to:c@d.com msgid:<x@y> tag:t status:held subject:words'), {
      from: 'a@b.com',
      recipient: 'c@d.com',
      messageId: '<x@y>',
      tag: 't',
      status: 'held',
      q: 'words',
    });
    assert.deepEqual(filters(''), {});
    assert.deepEqual(filters('   '), {});
  });

  it('takes quoted values, a space after the colon, any case of prefix, and domain senders', () => {
    assert.deepEqual(filters('FROM: @Example.com subject:"order shipped" Tag:"a b"'), {
      from: '@Example.com',
      q: 'order shipped',
      tag: 'a b',
    });
    assert.deepEqual(filters('subject:"Re: hello"'), { q: 'Re: hello' });
  });

  it('searches words without a prefix in the subject, with subject: in the order written', () => {
    assert.deepEqual(filters('order PL-1234'), { q: 'order PL-1234' });
    assert.deepEqual(filters('your subject:order "has shipped" from:x@y.z'), {
      q: 'your order has shipped',
      from: 'x@y.z',
    });
  });

  it("knows Postal's status names", () => {
    for (const [postal, ours] of [
      ['Sent', 'delivered'],
      ['SoftFail', 'deferred'],
      ['HardFail', 'failed'],
      ['Pending', 'queued'],
      ['Held', 'held'],
      ['bounced', 'bounced'],
    ])
      assert.equal(filters(`status:${postal}`).status, ours, postal);
  });

  it('says what is wrong with an unknown prefix, a missing value, a repeat, a bad status', () => {
    assert.match(
      refusal('date:2024-01-01'),
      /"date:" is not a search prefix\. Use from: to: msgid: tag: status: spam: subject:/,
    );
    assert.match(refusal('Re: hello'), /"Re:" is not a search prefix.*subject:"Re: hello"/);
    assert.match(refusal('from:'), /"from:" needs a value/);
    assert.match(refusal('tag:a tag:b'), /"tag:" can be given once/);
    assert.match(refusal('status:lost'), /"status:lost" is not a status/);
    assert.match(refusal('to:@example.com'), /"to:" takes a whole address/);
  });

  it('writes filters back as the text that reads into them', () => {
    const all = {
      from: 'a@b.com',
      recipient: 'c@d.com',
      messageId: 'x@y',
      tag: 't',
      status: 'held',
      spam: 'Spam',
      q: 'order shipped',
    };
    const text = searchText(all);
    assert.equal(text, 'from:a@b.com to:c@d.com msgid:<x@y> tag:t status:held spam:yes subject:"order shipped"');
    assert.deepEqual(filters(text), { ...all, messageId: '<x@y>' });
    assert.equal(searchText({}), '');
  });

  it("reads Postal's spam: verdicts and the incoming statuses", () => {
    assert.deepEqual(filters('spam:yes'), { spam: 'Spam' });
    assert.deepEqual(filters('spam:No status:rejected'), { spam: 'NotSpam', status: 'rejected' });
    assert.deepEqual(filters('spam:unchecked'), { spam: 'NotChecked' });
    assert.match(refusal('spam:maybe'), /spam:yes, spam:no or spam:unchecked/);
  });
});
