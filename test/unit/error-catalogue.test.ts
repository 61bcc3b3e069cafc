import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cliErrorCatalogueMarkdown } from '../../app/cli/error-catalogue.js';
import { errorCatalogueMarkdown, HTTP_ERRORS } from '../../infra/http/error-catalogue.js';
import { SMTP_REPLIES, smtpReplyMarkdown } from '../../infra/smtp/reply-catalogue.js';

// compiled to dist/test/unit: the sources are three folders up
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const docs = join(repo, 'docs/errors.md');
/** docs/errors.md: a section per catalogue, HTTP first. */
const written = () => [errorCatalogueMarkdown(), smtpReplyMarkdown(), cliErrorCatalogueMarkdown()].join('\n');

describe('the HTTP error catalogue', () => {
  // sendError takes catalogue codes only, so an error union (tenancy, message commands, the log's
  // append errors) with a code missing here does not compile: the compiler is the completeness check

  it('docs/errors.md is the catalogue (WRITE_DOCS=1 npm test -- unit/error-catalogue writes it)', () => {
    if (process.env.WRITE_DOCS === '1') writeFileSync(docs, written());
    assert.equal(readFileSync(docs, 'utf8'), written());
  });

  it('gives client mistakes a 4xx and our own faults a 5xx; "not found" is 404', () => {
    for (const [code, e] of Object.entries(HTTP_ERRORS)) {
      assert.ok(e.status >= 400 && e.status < 600, code);
      if (/NOT_FOUND$/.test(code)) assert.equal(e.status, 404, code);
      if (/^Postlog's own fault/.test(e.means)) assert.equal(e.status, 500, code);
    }
  });
});

describe('the SMTP reply catalogue', () => {
  it('each reply code agrees with its enhanced status code (4xx with 4.x.x, 5xx with 5.x.x)', () => {
    for (const [code, e] of Object.entries(SMTP_REPLIES)) {
      assert.match(String(e.reply), /^[45]\d\d$/, code);
      assert.match(e.status, /^[45]\.\d{1,3}\.\d{1,3}$/, code);
      assert.equal(e.status[0], String(e.reply)[0], code);
    }
  });
});
