import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { webhookEventNames, webhookFormats } from '../../domain/index.js';

// compiled to dist/test/unit; the dashboard's sources stay in dashboard/src
const source = resolve(dirname(fileURLToPath(import.meta.url)), '../../../dashboard/src/webhook-events.ts');

describe("the dashboard's list of webhook events", () => {
  it('is the API list, in the same order', () => {
    const list = readFileSync(source, 'utf8').match(/\[([^\]]*)\]/)?.[1] ?? '';
    const names = [...list.matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1]);
    assert.deepEqual(names, [...webhookEventNames]);
  });

  it('and its list of body formats is the API one, in the same order', () => {
    const formats = resolve(dirname(source), 'webhook-formats.tsx');
    const list = readFileSync(formats, 'utf8').match(/WEBHOOK_FORMATS = \[([^\]]*)\]/)?.[1] ?? '';
    assert.deepEqual(
      [...list.matchAll(/'([a-z]+)'/g)].map((m) => m[1]),
      [...webhookFormats],
    );
  });
});
