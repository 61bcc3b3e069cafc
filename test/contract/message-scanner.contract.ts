import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { MessageScanner, ScanError, Verdict } from '../../infra/scanning/index.js';
import { EICAR } from '../helpers/clamd.js';
import { freePort } from '../helpers/ports.js';

/**
 * The scanner contract: every adapter of infra/scanning runs this suite against its real daemon.
 * Spam scanners must call GTUBE spam and a plain message not; virus scanners must find EICAR and
 * pass a plain message; all must end in an error value, within their timeout, when the daemon is
 * gone, never answers, or the message is over the size limit.
 */
export interface ScannerFixture {
  kind: 'spam' | 'virus';
  /** The adapter on the running daemon. */
  scanner: MessageScanner;
  /** The same adapter pointed at another loopback port, with these limits. */
  scannerAt(port: number, limits: { timeoutMs: number; maxMessageBytes: number }): MessageScanner;
  /** Stops the daemon (the scanner is then left pointing at a closed port). */
  stopDaemon(): Promise<void>;
  teardown(): Promise<void>;
}

/** The standard anti-spam test string (GTUBE): every spam filter scores it as spam. */
export const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

export function sampleMessage(body: string, subject = 'Lunch tomorrow'): Buffer {
  return Buffer.from(
    [
      'From: Alice Example <alice@example.com>',
      'To: Bob Example <bob@example.org>',
      `Subject: ${subject}`,
      'Date: Sun, 06 Dec 2026 07:00:00 +0000',
      'Message-ID: <20261206070000.4711@example.com>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

export const PLAIN = sampleMessage(
  'Hi Bob,\r\n\r\nshall we have lunch tomorrow at noon, at the usual place?\r\n\r\nAlice',
);
export const SPAM = sampleMessage(`This is the GTUBE, the spam test:\r\n\r\n${GTUBE}`, 'Spam test');
export const VIRUS = sampleMessage(`This is the EICAR test file:\r\n\r\n${EICAR}`, 'Virus test');

const context = { from: 'alice@example.com', rcpt: ['bob@example.org'], ip: '192.0.2.10', helo: 'mail.example.com' };

function verdictOf(r: Awaited<ReturnType<MessageScanner['scan']>>): Verdict {
  assert.ok(r.ok, `expected a verdict, got ${JSON.stringify(!r.ok && r.error)}`);
  return r.value;
}
function errorOf(r: Awaited<ReturnType<MessageScanner['scan']>>): ScanError {
  assert.ok(!r.ok, `expected an error, got ${JSON.stringify(r.ok && r.value)}`);
  return r.error;
}

export function messageScannerContract(adapter: string, makeFixture: () => Promise<ScannerFixture>): void {
  describe(`message scanner contract: ${adapter}`, () => {
    let f: ScannerFixture;
    // a port that takes connections and never says a word: a hung daemon
    let silent: Server;
    let silentPort: number;
    const held: Socket[] = [];
    before(async () => {
      f = await makeFixture();
      silentPort = await freePort();
      // allowHalfOpen: our end of input (the request is all sent) must not close its side either
      silent = createServer({ allowHalfOpen: true }, (socket) => {
        held.push(socket);
        socket.on('error', () => {});
        socket.resume(); // read and ignore everything, answer nothing
      });
      await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve));
    });
    after(async () => {
      for (const s of held) s.destroy();
      await new Promise((resolve) => silent?.close(resolve));
      await f?.teardown();
    });

    it('names itself in its verdicts and times them', async () => {
      const v = verdictOf(await f.scanner.scan(PLAIN, context));
      assert.equal(v.scanner, f.scanner.name);
      assert.ok(v.durationMs >= 0);
    });

    it('spam scanners: GTUBE is spam, scored at or over the threshold', async (t) => {
      if (f.kind !== 'spam') return t.skip('a virus scanner');
      const v = verdictOf(await f.scanner.scan(SPAM, context));
      assert.ok(v.spam, 'a spam verdict');
      assert.equal(v.spam.isSpam, true);
      assert.ok(v.spam.score >= v.spam.threshold, `score ${v.spam.score} under threshold ${v.spam.threshold}`);
      assert.ok(v.spam.score >= 5, `score ${v.spam.score} under 5 (Postal's default threshold)`);
      assert.ok(
        v.spam.symbols.some((s) => s.name === 'GTUBE'),
        `GTUBE among ${v.spam.symbols.map((s) => s.name)}`,
      );
    });

    it('spam scanners: a plain message is not spam', async (t) => {
      if (f.kind !== 'spam') return t.skip('a virus scanner');
      const v = verdictOf(await f.scanner.scan(PLAIN, context));
      assert.ok(v.spam, 'a spam verdict');
      assert.equal(v.spam.isSpam, false);
      assert.ok(v.spam.score < 5, `score ${v.spam.score} of a plain message`);
      assert.ok(!v.spam.symbols.some((s) => s.name === 'GTUBE'));
    });

    it('virus scanners: EICAR is a virus, named', async (t) => {
      if (f.kind !== 'virus') return t.skip('a spam scanner');
      const v = verdictOf(await f.scanner.scan(VIRUS, context));
      assert.equal(v.virus?.found, true);
      assert.match(v.virus?.name ?? '', /eicar/i);
    });

    it('virus scanners: a plain message is clean', async (t) => {
      if (f.kind !== 'virus') return t.skip('a spam scanner');
      const v = verdictOf(await f.scanner.scan(PLAIN, context));
      assert.deepEqual(v.virus, { found: false });
    });

    it('a message over the size limit is not sent: MESSAGE_TOO_LARGE', async () => {
      const small = f.scannerAt(silentPort, { timeoutMs: 5000, maxMessageBytes: 100 });
      const started = performance.now();
      const e = errorOf(await small.scan(PLAIN, context));
      assert.equal(e.code, 'MESSAGE_TOO_LARGE');
      assert.equal(e.scanner, f.scanner.name);
      // the silent port would have held it for the whole timeout had it been contacted
      assert.ok(performance.now() - started < 1000);
    });

    it('a port that takes the connection and never answers: SCANNER_TIMEOUT within the timeout', async () => {
      const hung = f.scannerAt(silentPort, { timeoutMs: 600, maxMessageBytes: 1024 * 1024 });
      const started = performance.now();
      const e = errorOf(await hung.scan(PLAIN, context));
      const ms = performance.now() - started;
      assert.equal(e.code, 'SCANNER_TIMEOUT');
      assert.equal(e.scanner, f.scanner.name);
      assert.ok(ms >= 550 && ms < 3000, `ended after ${Math.round(ms)} ms`);
    });

    it('a stopped daemon: SCANNER_UNREACHABLE at once', async () => {
      await f.stopDaemon();
      const started = performance.now();
      const e = errorOf(await f.scanner.scan(PLAIN, context));
      assert.equal(e.code, 'SCANNER_UNREACHABLE');
      assert.equal(e.scanner, f.scanner.name);
      assert.match(e.message, /ECONNREFUSED/);
      assert.ok(performance.now() - started < 3000);
    });
  });
}
