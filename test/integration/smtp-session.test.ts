import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SmtpSession } from '../../mta/smtp/smtp-session.js';
import { freePort } from '../helpers/ports.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

describe('SMTP session (against an smtp-server peer)', () => {
  let sink: SmtpSink;
  let session: SmtpSession;
  before(async () => {
    sink = await startSmtpSink('127.0.0.1', await freePort(), { tls: false });
    session = await SmtpSession.open({
      host: '127.0.0.1',
      servername: 'localhost',
      port: sink.port,
      ehloName: 'mta.test',
      tls: 'none',
    });
  });
  after(async () => {
    session.close();
    await sink.close();
  });

  it('declares BODY=8BITMIME exactly for messages with 8-bit bytes, and both arrive byte for byte', async () => {
    const ascii = Buffer.from('Subject: plain\r\n\r\nhello\r\n');
    const eightBit = Buffer.from(
      'Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncafé au lait\r\n',
    );
    assert.equal((await session.send('a@mta.test', 'x@example.test', ascii)).ok, true);
    assert.equal((await session.send('a@mta.test', 'y@example.test', eightBit)).ok, true);
    const [first, second] = sink.received;
    assert.equal(first!.body, undefined);
    assert.ok(first!.raw.equals(ascii));
    assert.equal(second!.body, '8BITMIME');
    assert.ok(second!.raw.equals(eightBit));
  });

  it('keeps lines that start with a dot (transparency, RFC 5321 §4.5.2)', async () => {
    const dotted = Buffer.from('Subject: dots\r\n\r\n.\r\n..two\r\n.end\r\n');
    assert.equal((await session.send('a@mta.test', 'z@example.test', dotted)).ok, true);
    assert.ok(sink.received.at(-1)!.raw.equals(dotted));
  });
});
