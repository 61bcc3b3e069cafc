/**
 * The SMTP submission session through the real listener of a running Postlog, from a raw socket
 * client, on random messages: random line ends (CRLF, bare CR, bare LF), lines of dots (stuffed by
 * the client as SMTP asks), NULs and over-long lines. A message is accepted whole or not at all:
 * a 250 appends one MessageAccepted and GET /v2/messages/{id}/raw gives back our Received line, the
 * Message-ID the message lacked, and then exactly the bytes the client sent made canonical
 * (canonicalMessageBytes, the bytes that are signed and sent); a refusal (5xx, when
 * canonicalMessageBytes refuses) appends nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalMessageBytes, MAX_LINE_BYTES } from '../../domain/index.js';
import { createTenant, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/eventually.js';
import { fuzzRuns, lineEnd } from '../helpers/fuzz.js';
import { freePort } from '../helpers/ports.js';
import { smtpSession } from '../helpers/smtp-raw.js';

const bodyPiece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('text', ' ', '.', '..', '...', 'From: x', 'é', '日本', '=2E') },
  { weight: 4, arbitrary: lineEnd },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  { weight: 1, arbitrary: fc.integer({ min: 900, max: 997 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom('\r\n.\r\n', '\n.\n', '\r.\r', '\n..\n', '\r\n..\r\n', '\r\n.') },
);
/** What must be refused, in about a third of the messages: a NUL, a line over 998 bytes. */
const hazard = fc.option(
  fc.oneof(
    fc.constant('\u0000'),
    fc.integer({ min: 999, max: 1100 }).map((n) => `\r\n${'x'.repeat(n)}`),
  ),
  {
    freq: 2,
  },
);

const message = fc
  .tuple(
    fc.tuple(lineEnd, lineEnd, lineEnd, lineEnd),
    fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => s.replace(/[\r\n\u0000]/g, ' ')),
    fc.array(bodyPiece, { maxLength: 25 }),
    hazard,
    fc.nat(),
  )
  .map(([[e1, e2, e3, blank], subject, body, bad, at]) => {
    if (bad !== null) body.splice(at % (body.length + 1), 0, bad);
    // a bare CR ending the Subject and a bare LF for the blank line are one CRLF, not two line ends: the body
    // would still be headers (a generated "From: x" in it was rightly refused as a second From)
    const end = e3 === '\r' && blank.startsWith('\n') ? `\r\n${blank}` : `${e3}${blank}`;
    return Buffer.from(`From: a@sender.test${e1}To: r@example.org${e2}Subject: ${subject}${end}${body.join('')}`);
  });

/**
 * DATA's bytes as an SMTP client sends them: the content ended with CRLF (the CRLF of the final
 * "CRLF . CRLF" is the content's last line end), a dot doubled at the start of every line (after
 * any LF, as the server reads lines), then the final dot.
 */
function dataOnTheWire(content: Buffer): { wire: Buffer; sent: Buffer } {
  const sent = content.toString('latin1').endsWith('\r\n') ? content : Buffer.concat([content, Buffer.from('\r\n')]);
  const stuffed = sent.toString('latin1').replace(/(^|\n)\./g, '$1..');
  return { wire: Buffer.from(`${stuffed}.\r\n`, 'latin1'), sent };
}

describe('fuzz: SMTP submission accepts a message whole or not at all, and stores what was sent', () => {
  let t: TestApp;
  let tenant: Tenant;
  let tlsPort: number;
  const accepted = async () =>
    (await t.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE type = 'MessageAccepted'"))
      .rows[0]!.n;

  before(async () => {
    tlsPort = await freePort();
    t = await startTestApp({
      POSTLOG_ROLES: 'api,smtp,projector',
      POSTLOG_SUBMISSION_PORT: String(await freePort()),
      POSTLOG_SUBMISSION_TLS_PORT: String(tlsPort),
    });
    tenant = await createTenant(t.app, { domain: 'sender.test' });
  });
  after(async () => {
    await t?.stop();
  });

  it('random line ends, dots, NULs and long lines: 250 and the canonical bytes stored, or 5xx and nothing', async () => {
    const outcomes = { accepted: 0, refused: 0 };
    const auth = Buffer.from(`\0${tenant.smtp.username}\0${tenant.smtp.password}`).toString('base64');
    await fc.assert(
      fc.asyncProperty(message, async (content) => {
        const { wire, sent } = dataOnTheWire(content);
        const expected = canonicalMessageBytes(sent, { maxLineBytes: MAX_LINE_BYTES });
        const before = await accepted();
        const reply = await smtpSession({ port: tlsPort, tls: true }, async (say) => {
          for (const [line, answer] of [
            ['EHLO client.test', /^250 /],
            [`AUTH PLAIN ${auth}`, /^235 /],
            ['MAIL FROM:<a@sender.test>', /^250 /],
            ['RCPT TO:<r@example.org>', /^250 /],
            ['DATA', /^354 /],
          ] as const)
            assert.match(await say(line), answer, line);
          const answer = await say(wire);
          // the session goes on: a message that was cut short would leave its rest to be read as commands
          assert.match(await say('NOOP'), /^250 /, 'the session is in step after DATA');
          return answer;
        });
        if (!expected.ok) {
          assert.match(reply, /^5\d\d /, `refused: ${expected.error.message}`);
          assert.equal(await accepted(), before, 'a refused message appends nothing');
          outcomes.refused++;
          return;
        }
        const id = /queued as (\S+) /.exec(reply)?.[1];
        assert.ok(id, `accepted: ${reply}`);
        assert.equal(await accepted(), before + 1, 'one message, one MessageAccepted');
        const stored = await eventually(
          async () => {
            const res = await fetch(`${t.url}/v2/messages/${id}/raw`, {
              headers: { 'X-Server-API-Key': tenant.apiKey },
            });
            return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : undefined;
          },
          () => `GET /v2/messages/${id}/raw`,
        );
        const received = stored.subarray(0, stored.indexOf('\r\n') + 2).toString('latin1');
        assert.match(received, /^Received: [^\r\n]+ with ESMTPSA id [^\r\n]+\r\n$/);
        // the message had no Message-ID: the one the reply names is its header section's last field
        const [, rfcMessageId] = / Message-ID (\S+)$/.exec(reply.trimEnd())!;
        const rest = stored.subarray(received.length).toString('latin1');
        const field = `Message-ID: <${rfcMessageId}>\r\n`;
        const at = rest.indexOf(field);
        const canonical = expected.value.toString('latin1');
        const blank = canonical.indexOf('\r\n\r\n');
        assert.equal(at, blank >= 0 ? blank + 2 : canonical.length, rest);
        assert.equal(
          rest.slice(0, at) + rest.slice(at + field.length),
          canonical,
          'stored: the bytes sent, made canonical',
        );
        outcomes.accepted++;
      }),
      fuzzRuns(40),
    );
    console.log(`# SMTP fuzz: ${outcomes.accepted} accepted, ${outcomes.refused} refused`);
  });
});
