/**
 * `npm test`: starts one real PostgreSQL (the embedded server Postlog itself uses, in a temp dir)
 * unless POSTLOG_TEST_DATABASE_URL points at one, then runs every compiled *.test.js with node's
 * test runner. Each test file creates its own database on that server. The core tests (test/core/)
 * need none: a run of only those starts no server.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmbeddedPostgres } from '../infra/postgres/index.js';
import { createLogger } from '../infra/logging/index.js';
import { freePort } from './helpers/ports.js';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return testFiles(p);
    return d.name.endsWith('.test.js') ? [p] : [];
  });
}

const files = testFiles(here)
  // matched against the path below the test folder: a checkout in /work/wt-kafka must not make "kafka" match everything
  .filter((f) => only.length === 0 || only.some((o) => relative(here, f).includes(o)))
  .sort();

// the core tests (domain, MTA decisions, the command handler on the in-memory log) need no server
const coreOnly = files.every((f) => relative(here, f).startsWith(`core${sep}`));

let embedded: EmbeddedPostgres | undefined;
let tempDir: string | undefined;
const env = { ...process.env };
if (!env.POSTLOG_TEST_DATABASE_URL && !coreOnly) {
  const { EmbeddedPostgres } = await import('../infra/postgres/index.js');
  tempDir = mkdtempSync(join(tmpdir(), 'postlog-test-pg-'));
  chmodSync(tempDir, 0o755); // as root the server runs as "postgres", which must enter it
  embedded = new EmbeddedPostgres({
    dataDir: tempDir,
    port: await freePort(),
    logger: createLogger({ level: 'warn', format: 'json' }),
  });
  env.POSTLOG_TEST_DATABASE_URL = await embedded.start();
}

// What the tests put in the temp directory (the data dirs and PostgreSQL clusters of the Postlog
// processes they start, config files, ClickHouse and Kafka data) goes into one folder per run,
// removed at the end: the helpers make their own folders under os.tmpdir(), which reads TMPDIR, and
// not every test removes its own (a run used to leave ~400 MB in /tmp). Writable by all with the
// sticky bit, as /tmp is: as root, some servers under test run as other users (PostgreSQL as
// "postgres", a whole Postlog as "nobody") and make their own files in it.
const runTemp = mkdtempSync(join(tmpdir(), 'postlog-test-run-'));
chmodSync(runTemp, 0o1777);
env.TMPDIR = runTemp;

// A hung test fails after 5 minutes instead of holding CI for its full budget. Not --test-force-exit:
// on Node 20 it ended files before their last suites ran (and reported them green). Test files that
// start processes stop them in after() (stopLeftoverPostlogProcesses) so a failure cannot hang the run.
// The core tests share one process: they keep no global state and leave nothing running, and a
// process per file cost more than the tests themselves.
const isolation = coreOnly ? ['--test-isolation=none'] : [];
const args = ['--test', ...isolation, '--test-reporter=spec', '--test-timeout=300000', ...files];
const child = spawn(process.execPath, args, { stdio: 'inherit', env });
const code: number = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
await embedded?.stop();
if (tempDir) rmSync(tempDir, { recursive: true, force: true });
rmSync(runTemp, { recursive: true, force: true });
process.exit(code);
