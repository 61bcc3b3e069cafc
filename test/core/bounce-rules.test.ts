import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOUNCE_RULES, classifyBounce, matchingBounceRule, type BounceCategory } from '../../domain/index.js';

/**
 * One case per rule of domain/policies/bounce-rules.ts: a reply as receiving servers word it
 * (Gmail, Microsoft, Yahoo, Postfix, Sendmail…), the rule that must be the first to match it, and
 * what it must come to. A rule without a case fails the last test: a new rule comes with a reply.
 */
const cases: { rule: string; reply: string; category: BounceCategory; suppress: boolean }[] = [
  {
    rule: 'text-blocklist',
    reply: '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org',
    category: 'reputation',
    suppress: false,
  },
  {
    rule: 'text-reputation',
    reply:
      '550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list ' +
      'please visit https://sender.office.com/ and follow the directions.',
    category: 'reputation',
    suppress: false,
  },
  {
    rule: 'text-message-format',
    reply:
      "550 5.7.1 Our system has detected that this message is not RFC 5322 compliant: 'From' header is missing. " +
      'To reduce the amount of spam sent to Gmail, this message has been blocked.',
    category: 'content',
    suppress: false,
  },
  {
    rule: 'text-spam',
    reply:
      '550 5.7.1 [192.0.2.1] Our system has detected that this message is likely unsolicited mail. ' +
      'To reduce the amount of spam sent to Gmail, this message has been blocked.',
    category: 'spam-block',
    suppress: false,
  },
  {
    rule: 'text-authentication',
    reply:
      "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy. " +
      'Please contact the administrator of example.com domain if this was a legitimate mail.',
    category: 'auth-failure',
    suppress: false,
  },
  {
    rule: 'text-sender-rejected',
    reply: '553 5.1.8 <news@example.com>: Sender address rejected: Domain not found',
    category: 'policy',
    suppress: false,
  },
  {
    rule: 'text-rate-limit',
    reply: '450 4.2.0 <a@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/',
    category: 'rate-limit',
    suppress: false,
  },
  {
    rule: 'text-mailbox-full',
    reply:
      '552 5.2.2 The email account that you tried to reach is over quota. ' +
      'Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp',
    category: 'mailbox-full',
    suppress: false,
  },
  {
    rule: 'text-bad-mailbox',
    reply:
      '550 5.1.1 The email account that you tried to reach does not exist. ' +
      "Please try double-checking the recipient's email address for typos or unnecessary spaces.",
    category: 'bad-mailbox',
    suppress: true,
  },
  {
    rule: 'text-relay-denied',
    reply: '554 5.7.1 <someone@example.org>: Relay access denied',
    category: 'policy',
    suppress: false,
  },
  {
    rule: 'text-message-size',
    reply: '552 5.3.4 Message size exceeds fixed maximum message size',
    category: 'content',
    suppress: false,
  },
  {
    rule: 'text-domain-not-found',
    reply:
      '550 5.1.2 Host or domain name not found. Name service error for name=example.invalid type=A: Host not found',
    category: 'dns',
    suppress: false,
  },
  { rule: 'status-null-mx', reply: '556 5.1.10 example.net does not accept email', category: 'dns', suppress: false },
  {
    rule: 'status-bad-mailbox-address',
    reply: '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found',
    category: 'bad-mailbox',
    suppress: true,
  },
  {
    rule: 'status-bad-destination-system',
    reply: '550 5.1.2 Bad destination system address',
    category: 'dns',
    suppress: false,
  },
  {
    // Microsoft's 5.1.8 names our sending account, not the recipient: suppressing the recipient was wrong
    rule: 'status-bad-sender-address',
    reply: '550 5.1.8 Access denied, bad outbound sender. AS(42004)',
    category: 'policy',
    suppress: false,
  },
  {
    rule: 'status-addressing',
    reply: '550 5.1.4 Destination mailbox address ambiguous',
    category: 'bad-mailbox',
    suppress: true,
  },
  {
    rule: 'status-mailbox-disabled',
    reply: '550 5.2.1 The email account that you tried to reach is disabled.',
    category: 'bad-mailbox',
    suppress: true,
  },
  {
    rule: 'status-mailbox-full',
    reply: '552 5.2.2 User has exhausted allowed storage space',
    category: 'mailbox-full',
    suppress: false,
  },
  {
    rule: 'status-message-too-big',
    reply: '552 5.3.4 Error: message file too big',
    category: 'content',
    suppress: false,
  },
  {
    rule: 'status-rate-limit',
    reply: '451 4.7.500 Access denied, please try again later. For more information please go to https://aka.ms/',
    category: 'rate-limit',
    suppress: false,
  },
  { rule: 'status-routing', reply: '554 5.4.6 Too many hops 26 (25 max)', category: 'routing', suppress: false },
  {
    rule: 'status-media',
    reply: '554 5.6.0 Message contains invalid header lines',
    category: 'content',
    suppress: false,
  },
  {
    rule: 'status-sender-authentication',
    reply: '550 5.7.23 The message was rejected because of Sender Policy Framework violation',
    category: 'auth-failure',
    suppress: false,
  },
  {
    // (its former reply, Microsoft's 5.7.606 "banned sending IP", is a reputation block: text-reputation)
    rule: 'status-policy',
    reply: '550 5.7.1 Delivery not authorized, message refused',
    category: 'policy',
    suppress: false,
  },
  {
    rule: 'status-mail-system',
    reply: '554 5.3.2 System not accepting network messages',
    category: 'routing',
    suppress: false,
  },
  { rule: 'text-policy', reply: '550 Administrative prohibition', category: 'policy', suppress: false },
];

describe('bounce rules: each rule with a real reply', () => {
  for (const c of cases) {
    it(`${c.rule}: ${c.reply.slice(0, 70)}`, () => {
      assert.equal(matchingBounceRule(c.reply)?.id, c.rule, 'the first rule to match');
      const verdict = classifyBounce(c.reply);
      assert.equal(verdict.category, c.category);
      assert.equal(verdict.suppress, c.suppress);
    });
  }

  it('a 5.7.x code is never a bad mailbox, whatever the text names', () => {
    const reply = '554 5.7.1 <a@example.org>: Recipient address rejected: Access denied';
    assert.deepEqual(classifyBounce(reply), { category: 'policy', suppress: false, enhancedCode: '5.7.1' });
    assert.equal(classifyBounce('550 5.7.1 No such user!').category, 'policy');
    assert.equal(classifyBounce('550 5.1.1 No such user!').category, 'bad-mailbox');
  });

  it('a transient (4.x.x) failure is never suppressed, even when it names a bad mailbox', () => {
    assert.deepEqual(classifyBounce('450 4.1.1 <a@example.org>: Recipient address rejected: User unknown'), {
      category: 'bad-mailbox',
      suppress: false,
      enhancedCode: '4.1.1',
    });
  });

  it("reads qmail's and the gateways' codes written after '#'", () => {
    assert.equal(classifyBounce('553 sorry, that domain is not mine (#5.7.1)').enhancedCode, '5.7.1');
    assert.equal(classifyBounce('550 #5.1.0 Address rejected someone@example.org').enhancedCode, '5.1.0');
  });

  it('a reply no rule matches is "other" and not suppressed', () => {
    assert.equal(matchingBounceRule('550 Requested action not taken'), undefined);
    assert.deepEqual(classifyBounce('550 Requested action not taken'), { category: 'other', suppress: false });
  });

  it('every rule has a case, and rule ids are unique', () => {
    const ids = BOUNCE_RULES.map((r) => r.id);
    assert.deepEqual([...new Set(ids)], ids, 'unique ids');
    const covered = new Set(cases.map((c) => c.rule));
    assert.deepEqual(
      ids.filter((id) => !covered.has(id)),
      [],
      'rules without a case',
    );
    assert.deepEqual(
      [...covered].filter((id) => !ids.includes(id)),
      [],
      'cases for rules that do not exist',
    );
  });
});
