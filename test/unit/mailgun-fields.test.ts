/** How the Mailgun-compatible API reads address lists, options and recipient variables (no server needed). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressEntries } from '../../write-side/vendors/mailgun/mailgun-addresses.js';
import type { MailgunForm } from '../../write-side/vendors/mailgun/mailgun-form.js';
import { readOptions } from '../../write-side/vendors/mailgun/mailgun-options.js';
import {
  fillRecipientVariables,
  parseRecipientVariables,
} from '../../write-side/vendors/mailgun/recipient-variables.js';

const form = (fields: Record<string, string | string[]>): MailgunForm => ({
  fields: new Map(Object.entries(fields).map(([k, v]) => [k, Array.isArray(v) ? v : [v]])),
  files: [],
});
const now = new Date('2026-03-01T12:00:00Z');

describe('Mailgun fields', () => {
  it('splits address lists at commas outside quoted names and angle brackets', () => {
    assert.deepEqual(addressEntries(['"Doe, Jane" <jane@a.test>, bob@b.test', ' ', 'Ann <ann@c.test>,']), [
      '"Doe, Jane" <jane@a.test>',
      'bob@b.test',
      'Ann <ann@c.test>',
    ]);
    assert.deepEqual(addressEntries(['"a \\" , b" <x@y.test>,z@y.test']), ['"a \\" , b" <x@y.test>', 'z@y.test']);
  });

  it('reads o:deliverytime as RFC 2822 only, at most 30 days ahead', () => {
    const at = readOptions(form({ 'o:deliverytime': 'Sun, 01 Mar 2026 13:30:00 -0000' }), now);
    assert.equal('code' in at ? at.message : at.scheduledAt, '2026-03-01T13:30:00.000Z');
    const zone = readOptions(form({ 'o:deliverytime': '1 Mar 2026 15:00 +0200' }), now);
    assert.equal('code' in zone ? zone.message : zone.scheduledAt, '2026-03-01T13:00:00.000Z');
    for (const bad of ['2026-03-01T13:30:00Z', 'tomorrow', 'Sun, 01 Mar 2026 13:30:00']) {
      const r = readOptions(form({ 'o:deliverytime': bad }), now);
      assert.ok('code' in r && /not a valid RFC 2822 date/.test(r.message), bad);
    }
    const far = readOptions(form({ 'o:deliverytime': 'Fri, 10 Apr 2026 12:00:00 +0000' }), now);
    assert.ok('code' in far && /30 days/.test(far.message));
  });

  it('lets the specific tracking switches win over o:tracking, and takes htmlonly as on', () => {
    const r = readOptions(form({ 'o:tracking': 'no', 'o:tracking-clicks': 'htmlonly' }), now);
    assert.ok(!('code' in r));
    assert.deepEqual([r.trackOpens, r.trackClicks], [false, true]);
    const none = readOptions(form({}), now);
    assert.ok(!('code' in none));
    assert.deepEqual([none.trackOpens, none.trackClicks, none.testMode], [undefined, undefined, false]);
    const twice = readOptions(form({ 'o:testmode': ['yes', 'no'] }), now);
    assert.ok('code' in twice && /given 2 times/.test(twice.message));
  });

  it('refuses options Postlog has no equivalent for, and takes the values it does anyway', () => {
    const dkim = readOptions(form({ 'o:dkim': 'YES', 'o:require-tls': 'false', 'o:skip-verification': 'yes' }), now);
    assert.ok(!('code' in dkim));
    for (const [name, value] of [
      ['o:dkim', 'no'],
      ['o:require-tls', 'yes'],
      ['o:sending-ip', '192.0.2.1'],
      ['o:tracking-pixel-location-top', 'yes'],
    ] as const) {
      const r = readOptions(form({ [name]: value }), now);
      assert.ok('code' in r && r.message.startsWith(`${name} parameter is not supported by Postlog: `), name);
    }
  });

  it('fills %recipient.name% (escaped in HTML) and names the missing ones', () => {
    const vars = parseRecipientVariables('{"Ann@A.test": {"first": "Ann & co", "n": 3}}');
    assert.ok(!('code' in vars));
    assert.deepEqual(vars['ann@a.test'], { first: 'Ann & co', n: 3 });
    const values = { first: 'Ann & co', n: '3' };
    assert.deepEqual(fillRecipientVariables('Hi %recipient.first% #%recipient.n%', values, false), {
      text: 'Hi Ann & co #3',
      missing: [],
    });
    assert.deepEqual(fillRecipientVariables('<b>%recipient.first%</b>%recipient.last%', values, true), {
      text: '<b>Ann &amp; co</b>',
      missing: ['last'],
    });
    assert.ok('code' in parseRecipientVariables('{"a@b.test": "not an object"}'));
    assert.ok('code' in parseRecipientVariables('{'));
  });
});
