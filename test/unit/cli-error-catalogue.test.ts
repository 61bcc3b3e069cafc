import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI_ERRORS, exitCodeOf, isCliErrorCode } from '../../app/cli/error-catalogue.js';

// compiled to dist/test/unit: the sources are three folders up
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The CLI's sources: the command (app/cli), what it runs that names codes (app/*.ts, app/cluster, backup and
 * restore), its settings.
 */
function sources(): string[] {
  return ['app', 'app/cli', 'app/cluster', 'infra/config', 'infra/postgres/backup'].flatMap((dir) =>
    readdirSync(join(repo, dir))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(repo, dir, f)),
  );
}

/**
 * Every code the sources give an error: cliError('CODE', …), an error class's `code = 'CODE'`, and
 * the codes commander's errors are shown as (errors.ts). cliError's parameter type already refuses
 * a code outside the catalogues; this also catches a code that reaches the CLI another way.
 */
function codesUsed(): Map<string, string> {
  const used = new Map<string, string>();
  for (const file of sources()) {
    const text = readFileSync(file, 'utf8');
    const patterns = [/cliError\(\s*'([A-Z_]+)'/g, /readonly code = '([A-Z_]+)'/g, /'commander\.\w+': '([A-Z_]+)'/g];
    for (const pattern of patterns) for (const m of text.matchAll(pattern)) used.set(m[1]!, file);
  }
  return used;
}

describe('the CLI error catalogue', () => {
  it('has an entry for every code the CLI gives an error', () => {
    const used = codesUsed();
    assert.ok(used.size >= 20, `found only ${[...used.keys()].join(', ')}: does the pattern still match?`);
    for (const [code, file] of used) assert.ok(isCliErrorCode(code), `${code} (${file}) is in no catalogue`);
  });

  it('has no entry the CLI never uses', () => {
    const used = codesUsed();
    // START_FAILED and UNEXPECTED are given where no code is known (main.ts, errors.ts), not by name in a call
    const unused = Object.keys(CLI_ERRORS).filter((c) => !used.has(c) && !['START_FAILED', 'UNEXPECTED'].includes(c));
    assert.deepEqual(unused, []);
  });

  it('gives usage errors exit code 2 and failures 1; the HTTP API codes exit 1', () => {
    for (const [code, e] of Object.entries(CLI_ERRORS)) {
      assert.ok([1, 2].includes(e.exit), code);
      if (/^(UNKNOWN|MISSING|INVALID|EXCESS)_/.test(code)) assert.equal(e.exit, 2, code);
    }
    assert.equal(exitCodeOf('UNAUTHENTICATED_FROM_ADDRESS'), 1);
    assert.equal(isCliErrorCode('NO_SUCH_CODE'), false);
  });
});
