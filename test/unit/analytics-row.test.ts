import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mailboxProvider, type MessageEvent } from '../../domain/index.js';
import type { RecordedEvent } from '../../infra/event-store/index.js';
import {
  analyticsRowOf,
  decodeMessageEvent,
  type MessageDimensions,
} from '../../projections/analytics/analytics-row.js';
import { TimeSeriesQuery, TimeZone, localTime } from '../../read-api/analytics/reports-port.js';

describe('mailbox provider: the registrable domain of the MX that took the message', () => {
  it('rolls MX hosts up to their provider', () => {
    assert.equal(mailboxProvider('aspmx.l.google.com'), 'google.com');
    assert.equal(mailboxProvider('ALT1.ASPMX.L.GOOGLE.COM.'), 'google.com');
    assert.equal(mailboxProvider('gmail-smtp-in.l.google.com'), 'google.com');
    assert.equal(mailboxProvider('example-com.mail.protection.outlook.com'), 'outlook.com');
    assert.equal(mailboxProvider('eur.olc.protection.outlook.com'), 'outlook.com');
    assert.equal(mailboxProvider('mta7.am0.yahoodns.net'), 'yahoo.com');
    assert.equal(mailboxProvider('mx01.mail.icloud.com'), 'icloud.com');
    // public suffixes of more than one label
    assert.equal(mailboxProvider('mx.mail.example.co.uk'), 'example.co.uk');
    assert.equal(mailboxProvider('mx1.example.com.au'), 'example.com.au');
  });
  it('keeps IP literals and single names, and gives "" for no host', () => {
    assert.equal(mailboxProvider('127.0.0.11'), '127.0.0.11');
    assert.equal(mailboxProvider('[192.0.2.1]'), '192.0.2.1');
    assert.equal(mailboxProvider('relay'), 'relay');
    assert.equal(mailboxProvider(undefined), '');
    assert.equal(mailboxProvider('  '), '');
  });
});

let position = 0;
function recorded(messageId: string, type: MessageEvent['type'], data: Record<string, unknown>): RecordedEvent {
  position++;
  return {
    eventId: `00000000-0000-7000-8000-${String(position).padStart(12, '0')}`,
    type,
    streamId: `message-${messageId}`,
    revision: position,
    position,
    checkpoint: String(position),
    recordedAt: new Date('2026-03-01T12:00:00Z'),
    schemaVersion: 1,
    data,
    metadata: {},
  };
}
const SERVER = '11111111-1111-4111-8111-111111111111';
const accepted = (id: string, tag?: string) =>
  recorded(id, 'MessageAccepted', {
    messageId: id,
    serverId: SERVER,
    batchId: 'b',
    rfcMessageId: `${id}@x`,
    token: 'AbCdEfGh12345678',
    from: 'News <News@Sender.Example>',
    to: 'Alice@Gmail.COM',
    subject: 's',
    ...(tag ? { tag } : {}),
    contentHash: 'c'.repeat(64),
    size: 1,
    source: 'api',
    at: '2026-03-01T10:00:00.000+01:00',
  });
const attempt = (mxHost: string, localIp?: string, code = 250) => ({
  attempt: 1,
  mxHost,
  ...(localIp ? { localIp } : {}),
  reply: { code, text: 'x' },
  durationMs: 3,
  at: '2026-03-01T09:01:00Z',
});

/** Flattens a message's events in order, as a projection does. */
function flatten(events: RecordedEvent[], start?: MessageDimensions) {
  let dims = start;
  return events.map((r) => {
    const out = analyticsRowOf(r, decodeMessageEvent(r), dims);
    dims = out.dimensions;
    return out;
  });
}

describe('analytics rows: one flat row per reported event, with the message dimensions', () => {
  it("copies the accepted message's dimensions onto every later event, and the provider and IP once an attempt names them", () => {
    const events = [
      accepted('7', 'welcome'),
      recorded('7', 'MessageQueued', { dueAt: '2026-03-01T09:00:00Z', at: '2026-03-01T09:00:00Z' }),
      recorded('7', 'MessageDeferred', {
        delivery: attempt('alt1.aspmx.l.google.com', '192.0.2.7', 421),
        reason: '421',
        nextAttemptAt: '2026-03-01T09:10:00Z',
        at: '2026-03-01T09:01:00Z',
      }),
      recorded('7', 'MessageDelivered', { delivery: attempt('aspmx.l.google.com'), at: '2026-03-01T09:10:00Z' }),
      recorded('7', 'MessageOpened', { machine: true, userAgent: 'GoogleImageProxy', at: '2026-03-01T09:11:00Z' }),
      recorded('7', 'MessageLinkClicked', {
        url: 'https://shop.example/a',
        machine: false,
        ip: '198.51.100.1',
        at: '2026-03-01T09:12:00Z',
      }),
      recorded('7', 'MessageBounced', {
        kind: 'async',
        diagnostic: 'over quota',
        classification: 'mailbox-full',
        suppress: false,
        at: '2026-03-02T00:00:00Z',
      }),
    ];
    const out = flatten(events);
    assert.equal(out[1]!.row, null, 'MessageQueued is not reported');
    const rows = out.map((o) => o.row).filter((r) => r !== null);
    assert.deepEqual(
      rows.map((r) => [
        r.event_type,
        r.event_time,
        r.mailbox_provider,
        r.ip,
        r.machine,
        r.url,
        r.bounce_classification,
        r.attempt,
        r.smtp_code,
        r.seconds_since_accepted,
      ]),
      [
        ['MessageAccepted', '2026-03-01T09:00:00.000Z', '', '', false, '', '', 0, 0, 0],
        ['MessageDeferred', '2026-03-01T09:01:00.000Z', 'google.com', '192.0.2.7', false, '', '', 1, 421, 60],
        // the attempt named no local address: the previous one is kept
        ['MessageDelivered', '2026-03-01T09:10:00.000Z', 'google.com', '192.0.2.7', false, '', '', 1, 250, 600],
        ['MessageOpened', '2026-03-01T09:11:00.000Z', 'google.com', '192.0.2.7', true, '', '', 0, 0, 660],
        [
          'MessageLinkClicked',
          '2026-03-01T09:12:00.000Z',
          'google.com',
          '192.0.2.7',
          false,
          'https://shop.example/a',
          '',
          0,
          0,
          720,
        ],
        [
          'MessageBounced',
          '2026-03-02T00:00:00.000Z',
          'google.com',
          '192.0.2.7',
          false,
          '',
          'mailbox-full',
          0,
          0,
          54000,
        ],
      ],
    );
    assert.deepEqual(
      rows.map((r) => r.position),
      [1, 3, 4, 5, 6, 7].map((n) => n + events[0]!.position - 1),
    );
    for (const r of rows) {
      assert.deepEqual(
        [r.message_id, r.server_id, r.sending_domain, r.recipient_domain, r.tag],
        ['7', SERVER, 'sender.example', 'gmail.com', 'welcome'],
      );
    }
    assert.equal(rows[0]!.event_id, events[0]!.eventId);
  });

  it('is pure: the same event and dimensions always give the same row (replay, second adapter)', () => {
    const a = accepted('8');
    const first = analyticsRowOf(a, decodeMessageEvent(a), undefined);
    const again = analyticsRowOf(a, decodeMessageEvent(a), undefined);
    assert.deepEqual(first, again);
    assert.equal(first.row!.tag, '');
    const open = recorded('8', 'MessageOpened', { machine: false, at: '2026-03-01T11:00:00Z' });
    assert.deepEqual(
      analyticsRowOf(open, decodeMessageEvent(open), first.dimensions),
      analyticsRowOf(open, decodeMessageEvent(open), first.dimensions),
    );
  });

  it('refuses an event of a message it has no dimensions for', () => {
    const open = recorded('9', 'MessageOpened', { machine: false, at: '2026-03-01T11:00:00Z' });
    assert.throws(() => analyticsRowOf(open, decodeMessageEvent(open), undefined), /no MessageAccepted/);
    const held = recorded('9', 'MessageHeld', { reason: 'manual', at: '2026-03-01T11:00:00Z' });
    assert.deepEqual(analyticsRowOf(held, decodeMessageEvent(held), undefined), { dimensions: undefined, row: null });
  });
});

describe('report arguments', () => {
  it('accepts IANA zones (canonical case) and refuses the rest', () => {
    assert.equal(TimeZone.parse('Europe/Paris'), 'Europe/Paris');
    assert.equal(TimeZone.parse('utc'), 'UTC');
    // ICU may answer with the older link name; both are in every tz database
    assert.ok(
      ['America/Argentina/Buenos_Aires', 'America/Buenos_Aires'].includes(
        TimeZone.parse('America/Argentina/Buenos_Aires'),
      ),
    );
    for (const bad of ['Mars/Olympus', '+02:00', "UTC'; DROP TABLE x --", '', 'Europe/../etc'])
      assert.equal(TimeZone.safeParse(bad).success, false, bad);
  });
  it('bounds the range per bucket', () => {
    const q = (bucket: string, days: number) =>
      TimeSeriesQuery.safeParse({
        scope: { serverIds: [] },
        range: {
          from: '2026-01-01T00:00:00Z',
          to: new Date(Date.parse('2026-01-01T00:00:00Z') + days * 86_400_000).toISOString(),
        },
        bucket,
      }).success;
    assert.equal(q('minute', 3), true);
    assert.equal(q('minute', 4), false);
    assert.equal(q('hour', 93), true);
    assert.equal(q('hour', 94), false);
    assert.equal(q('day', 1100), true);
    assert.equal(q('week', 1101), false);
    assert.equal(
      TimeSeriesQuery.safeParse({
        scope: { serverIds: [] },
        range: { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' },
        bucket: 'day',
      }).success,
      false,
    );
  });
  it("shows a bucket start on the zone's wall clock", () => {
    assert.equal(localTime('2026-03-28T23:00:00.000Z', 'Europe/Paris'), '2026-03-29T00:00:00');
    assert.equal(localTime('2026-03-29T22:00:00.000Z', 'Europe/Paris'), '2026-03-30T00:00:00');
    assert.equal(localTime('2026-03-29T00:30:00.000Z', 'UTC'), '2026-03-29T00:30:00');
  });
});
