/**
 * The JSON Schemas committed under schemas/events are what consumers of the Kafka topic use: they
 * must be exactly what this version of the code generates (`postlog schemas --out schemas/events`).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { messageEventCodec } from '../../domain/index.js';
import { eventJsonSchemaFiles } from '../../projections/kafka/json-schemas.js';
import { runCli } from '../helpers/postlog-process.js';

const schemasDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../schemas/events');

describe('JSON Schemas of the Kafka records (schemas/events)', () => {
  it('the committed files equal what the code generates, one per event type', () => {
    const generated = eventJsonSchemaFiles();
    assert.deepEqual(readdirSync(schemasDir).sort(), [...generated.keys()].sort(), 'no file missing, none left over');
    for (const [name, text] of generated) {
      assert.equal(
        readFileSync(join(schemasDir, name), 'utf8'),
        text,
        `schemas/events/${name} is stale: run postlog schemas --out schemas/events`,
      );
    }
    for (const type of messageEventCodec.types)
      assert.ok(generated.has(`${type}.v${messageEventCodec.schemaVersionOf(type)}.schema.json`), type);
  });

  it('postlog schemas --check agrees, and fails on a stale directory', async () => {
    const ok = await runCli(['schemas', '--check', '--out', schemasDir], process.env as Record<string, string>);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /up to date/);
    const stale = await runCli(
      ['schemas', '--check', '--out', join(schemasDir, 'no-such-dir')],
      process.env as Record<string, string>,
    );
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /missing or out of date/);
  });
});
