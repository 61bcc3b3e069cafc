import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mailboxHeader, parseMailbox, parseRecipient, parseRecipientList } from '../../domain/index.js';
import { recipientRules } from '../../write-side/send/recipient-rules.js';

const verdict = (input: string, rules = recipientRules('refuse')) => {
  const r = parseRecipient(input, rules);
  return r.ok ? r.value.domain : `refused: ${r.error}`;
};

describe('recipient rules', () => {
  it('refuses address literals unless the operator takes them; public-only keeps internal hosts out', () => {
    assert.match(verdict('u@[192.0.2.1]'), /^refused: .*address literals/);
    const publicOnly = recipientRules('public');
    assert.equal(verdict('u@[8.8.8.8]', publicOnly), '[8.8.8.8]');
    assert.equal(verdict('u@[IPv6:2001:4860::8888]', publicOnly), '[ipv6:2001:4860::8888]');
    for (const internal of [
      'u@[127.0.0.1]',
      'u@[10.1.2.3]',
      'u@[169.254.169.254]',
      'u@[0.0.0.0]',
      'u@[IPv6:::1]',
      'u@[IPv6:::ffff:127.0.0.1]',
    ]) {
      assert.match(verdict(internal, publicOnly), /^refused: .*not allowed here/, internal);
    }
    assert.equal(verdict('u@[127.0.0.1]', recipientRules('any')), '[127.0.0.1]');
  });

  it('takes a literal only in its one written form: leading zeros (read as octal by some resolvers) are refused', () => {
    const any = recipientRules('any');
    assert.match(verdict('u@[010.0.0.1]', any), /not an IP address/);
    assert.match(verdict('u@[1.2.3]', any), /not an IP address/);
    assert.match(verdict('u@[IPv6:zz::1]', any), /not an IP address/);
  });

  it('applies the same rules to literals as to names: no line breaks, control characters, source routes or % routing', () => {
    const any = recipientRules('any');
    assert.match(verdict('"Evil\r\nFrom: ceo@bank.test" <x@[192.0.2.1]>', any), /control characters/);
    assert.match(verdict('<@a.test:u@[192.0.2.1]>', any), /source routes/);
    assert.match(verdict('u%h@[192.0.2.1]', any), /routing/);
    assert.match(verdict('a\u0000b@example.com'), /control characters/);
    assert.match(verdict('a\tb@example.com'), /control characters/);
  });

  it('keeps taking ordinary mailboxes', () => {
    for (const ok of [
      'a@b.test',
      'App <a@b.test>',
      '"Team: x@y" <a@b.test>',
      'a.b+c@123.example',
      'UPPER@Example.ORG',
    ]) {
      assert.ok(parseMailbox(ok).ok, ok);
    }
  });

  it('reads a comma-separated list as the vendor APIs write it, each mailbox checked as one recipient is', () => {
    const list = parseRecipientList(' a@x.test, "Doe, B" <b@Y.test>,c@z.test ');
    assert.ok(list.ok);
    assert.deepEqual(
      list.value.map((m) => [m.address, m.name, m.domain]),
      [
        ['a@x.test', '', 'x.test'],
        ['b@Y.test', 'Doe, B', 'y.test'],
        ['c@z.test', '', 'z.test'],
      ],
    );
    const empty = parseRecipientList('  ');
    assert.deepEqual(empty.ok ? empty.value : empty.error, []);
    for (const bad of ['a@x.test, nobody', 'a@x.test,\r\nBcc: e@vil.test', 'u@[127.0.0.1]', 'a%b@x.test'])
      assert.equal(parseRecipientList(bad, recipientRules('refuse')).ok, false, bad);
    assert.equal(mailboxHeader({ address: 'b@y.test', name: 'Doe, "B"' }), '"Doe, B" <b@y.test>');
    assert.equal(mailboxHeader({ address: 'b@y.test', name: '' }), 'b@y.test');
  });
});
