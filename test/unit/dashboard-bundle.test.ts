import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

// compiled to dist/test/unit; the dashboard is built into dist/dashboard by `npm run build`
const assets = resolve(dirname(fileURLToPath(import.meta.url)), '../../dashboard/assets');

/**
 * The dashboard's size budget (docs/dashboard.md): what a browser downloads before the first page
 * is interactive, gzipped as served over a slow link. Preact and the pages fit well within it; a
 * library that does not fit is a decision to make, not to slip in.
 */
const BUDGET_GZIP_BYTES = { js: 60 * 1024, css: 10 * 1024 };

describe('the dashboard bundle', () => {
  it(`stays within its budget (JS ${BUDGET_GZIP_BYTES.js / 1024} KB, CSS ${BUDGET_GZIP_BYTES.css / 1024} KB gzipped)`, () => {
    const files = readdirSync(assets);
    const total = (ext: string) =>
      files
        .filter((f) => f.endsWith(`.${ext}`))
        .reduce((n, f) => n + gzipSync(readFileSync(join(assets, f))).length, 0);
    assert.ok(
      files.some((f) => f.endsWith('.js')),
      `no script in ${assets}: was the dashboard built?`,
    );
    const js = total('js');
    const css = total('css');
    assert.ok(js <= BUDGET_GZIP_BYTES.js, `JS is ${js} bytes gzipped, over the budget of ${BUDGET_GZIP_BYTES.js}`);
    assert.ok(css <= BUDGET_GZIP_BYTES.css, `CSS is ${css} bytes gzipped, over the budget of ${BUDGET_GZIP_BYTES.css}`);
  });
});
