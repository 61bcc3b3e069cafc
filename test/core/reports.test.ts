import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyBounce,
  enhancedCodeOf,
  isAutoReply,
  parseDeliveryStatus,
  parseFeedbackReport,
  retryHintSeconds,
  nextRetry,
  defaultRetryPolicy,
} from '../../domain/index.js';

describe('bounce and complaint report parsing', () => {
  it('reads an RFC 3464 delivery-status part per recipient', () => {
    const status = parseDeliveryStatus(
      [
        'Reporting-MTA: dns; mx.example.org',
        'Arrival-Date: Sat, 21 Nov 2026 10:00:00 +0000',
        '',
        'Final-Recipient: rfc822; gone@example.org',
        'Original-Recipient: rfc822;gone@example.org',
        'Action: failed',
        'Status: 5.1.1',
        'Remote-MTA: dns; mail.example.org',
        'Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: Recipient address',
        '    rejected: User unknown',
        '',
        'Final-Recipient: rfc822; slow@example.org',
        'Action: delayed',
        'Status: 4.4.1',
      ].join('\r\n'),
    );
    assert.equal(status.reportingMta, 'mx.example.org');
    assert.deepEqual(status.recipients, [
      {
        finalRecipient: 'gone@example.org',
        action: 'failed',
        status: '5.1.1',
        diagnosticCode: '550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown',
        remoteMta: 'mail.example.org',
      },
      { finalRecipient: 'slow@example.org', action: 'delayed', status: '4.4.1' },
    ]);
  });

  it('reads an RFC 5965 feedback report', () => {
    assert.deepEqual(
      parseFeedbackReport(
        'Feedback-Type: abuse\r\nUser-Agent: SomeISP-FBL/1.0\r\nVersion: 1\r\nSource-IP: 192.0.2.1\r\n',
      ),
      { feedbackType: 'abuse', userAgent: 'SomeISP-FBL/1.0', sourceIp: '192.0.2.1' },
    );
    assert.equal(parseFeedbackReport('').feedbackType, 'abuse');
  });

  it('recognises auto-replies by RFC 3834 header, vendor headers and subject, but not DSNs', () => {
    assert.equal(isAutoReply(new Map([['auto-submitted', 'auto-replied']]), 'Re: hello'), true);
    assert.equal(isAutoReply(new Map([['x-autoreply', 'yes']]), 'anything'), true);
    assert.equal(isAutoReply(new Map(), 'Out of Office: back Monday'), true);
    assert.equal(
      isAutoReply(new Map([['auto-submitted', 'auto-generated']]), 'Undelivered Mail Returned to Sender'),
      false,
    );
    assert.equal(isAutoReply(new Map(), 'Re: your invoice'), false);
  });

  it('classifies bounces by the rule table: the mailbox is suppressed, policy is not', () => {
    assert.deepEqual(classifyBounce('550 5.1.1 <a@b>: Recipient address rejected: User unknown'), {
      category: 'bad-mailbox',
      suppress: true,
      enhancedCode: '5.1.1',
    });
    assert.deepEqual(
      classifyBounce('554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org'),
      // a DNSBL listing is the sending IP's reputation (class added with the bounce corpus), not spam content
      { category: 'reputation', suppress: false, enhancedCode: '5.7.1' },
    );
    assert.deepEqual(classifyBounce('550 5.7.1 Relaying denied'), {
      category: 'policy',
      suppress: false,
      enhancedCode: '5.7.1',
    });
    assert.deepEqual(classifyBounce('552 5.2.2 Mailbox full'), {
      category: 'mailbox-full',
      suppress: false,
      enhancedCode: '5.2.2',
    });
    assert.deepEqual(
      classifyBounce('550 5.7.26 Unauthenticated email from example.com is not accepted due to DMARC policy'),
      { category: 'auth-failure', suppress: false, enhancedCode: '5.7.26' },
    );
    assert.deepEqual(classifyBounce('550 Requested action not taken'), { category: 'other', suppress: false });
    assert.equal(enhancedCodeOf('451 4.7.1 Greylisted'), '4.7.1');
  });

  it('honours "try again in N" and gives up after the maximum age', () => {
    assert.equal(retryHintSeconds('451 4.7.1 Greylisted, please try again in 300 seconds'), 300);
    assert.equal(retryHintSeconds('421 Try again after 5 minutes'), 300);
    const acceptedAt = new Date('2026-01-01T00:00:00Z');
    const soon = nextRetry(defaultRetryPolicy, { attemptsMade: 1, acceptedAt, now: new Date('2026-01-01T00:00:10Z') });
    assert.deepEqual(soon, { retryAt: new Date('2026-01-01T00:01:10Z') });
    const hinted = nextRetry(defaultRetryPolicy, {
      attemptsMade: 1,
      acceptedAt,
      now: acceptedAt,
      replyText: 'try again in 30 seconds',
    });
    assert.deepEqual(hinted, { retryAt: new Date('2026-01-01T00:00:30Z') });
    const late = nextRetry(defaultRetryPolicy, { attemptsMade: 30, acceptedAt, now: new Date('2026-01-03T23:00:00Z') });
    assert.ok('giveUp' in late);
  });
});
