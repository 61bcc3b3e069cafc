import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../infra/config/index.js';
import { createLogger } from '../../infra/logging/index.js';
import { createMetrics } from '../../infra/metrics/index.js';
import { mustTempfail, scannerFromSettings, scanSummary } from '../../infra/scanning/index.js';
import { PLAIN, SPAM, VIRUS } from '../contract/message-scanner.contract.js';
import { startClamd } from '../helpers/clamd.js';
import type { DaemonProcess } from '../helpers/daemon-process.js';
import { freePort } from '../helpers/ports.js';
import { startSpamd } from '../helpers/spamd.js';

/**
 * The scanners the configuration names, run together on real daemons (spamd and clamd; rspamd
 * points at a closed port): one verdict from each that answers, the failure counted and logged.
 */
describe('combined scanner, from the configuration', () => {
  let spamd: DaemonProcess;
  let clamd: DaemonProcess;
  let closedPort: number;
  before(async () => {
    [spamd, clamd, closedPort] = await Promise.all([startSpamd(), startClamd(), freePort()]);
  });
  after(async () => {
    await Promise.all([spamd?.stop(), clamd?.stop()]);
  });

  function build() {
    const config = loadConfig({
      env: {
        POSTLOG_RSPAMD_URL: `http://127.0.0.1:${closedPort}`,
        POSTLOG_SPAMD_HOST: '127.0.0.1',
        POSTLOG_SPAMD_PORT: String(spamd.port),
        POSTLOG_CLAMD_HOST: '127.0.0.1',
        POSTLOG_CLAMD_PORT: String(clamd.port),
      },
      file: '/dev/null',
    });
    const lines = new PassThrough();
    const logged: string[] = [];
    lines.on('data', (d) => logged.push(...d.toString('utf8').trim().split('\n')));
    const metrics = createMetrics();
    const logger = createLogger({ level: 'warn', format: 'json', destination: lines });
    const scanner = scannerFromSettings(config, { logger, failures: metrics.scannerFailures });
    assert.ok(scanner);
    return { scanner, metrics, logged };
  }

  it('runs the three, merges the verdicts, and lists, counts and logs the one that is down', async () => {
    const { scanner, metrics, logged } = build();
    assert.deepEqual(
      scanner.scanners.map((s) => s.name),
      ['rspamd', 'spamassassin', 'clamav'],
    );
    const v = await scanner.scan(SPAM);
    assert.deepEqual(
      v.verdicts.map((x) => x.scanner),
      ['spamassassin', 'clamav'],
    );
    assert.deepEqual(
      v.failures.map((f) => [f.scanner, f.code]),
      [['rspamd', 'SCANNER_UNREACHABLE']],
    );
    assert.equal(v.spam?.scanner, 'spamassassin');
    assert.equal(v.spam?.isSpam, true);
    assert.deepEqual(v.virus, { found: false, scanner: 'clamav' });
    const text = await metrics.registry.metrics();
    assert.match(text, /postlog_scanner_failures_total\{scanner="rspamd",reason="unreachable"\} 1/);
    await new Promise((r) => setTimeout(r, 50)); // pino writes asynchronously
    const warn = logged.map((l) => JSON.parse(l)).find((l) => l.msg === 'scanner gave no verdict');
    assert.ok(warn, `a warning among ${logged.join('\n')}`);
    assert.equal(warn.scanner, 'rspamd');
    assert.equal(warn.code, 'SCANNER_UNREACHABLE');
  });

  it('summarises as a message records it, and the failure policy decides on the failure', async () => {
    const { scanner } = build();
    const spam = await scanner.scan(SPAM);
    const summary = scanSummary(spam, 5);
    assert.equal(summary.spamStatus, 'Spam');
    assert.ok(summary.spamScore! >= 5);
    assert.equal(summary.spamThreshold, 5);
    assert.ok(summary.symbols?.some((s) => s.name === 'GTUBE'));
    assert.deepEqual(summary.failures, ['rspamd: SCANNER_UNREACHABLE']);
    assert.equal(mustTempfail(spam, 'tempfail'), true);
    assert.equal(mustTempfail(spam, 'accept'), false);

    const virus = await scanner.scan(VIRUS);
    assert.match(scanSummary(virus, 5).virus ?? '', /Eicar/);
    const plain = scanSummary(await scanner.scan(PLAIN), 5);
    assert.equal(plain.spamStatus, 'NotSpam');
    assert.equal(plain.virus, undefined);
  });

  it('no scanner configured: nothing to run', () => {
    const config = loadConfig({ env: {}, file: '/dev/null' });
    const logger = createLogger({ level: 'silent', format: 'json' });
    assert.equal(scannerFromSettings(config, { logger }), undefined);
  });
});
