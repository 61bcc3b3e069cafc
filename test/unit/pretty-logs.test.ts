import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../infra/logging/index.js';

/** What a person at a terminal reads (POSTLOG_LOG_FORMAT=pretty), through the logger Postlog makes. */
describe('pretty logs', () => {
  it('are one line per event, fields included, not a line per field', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const logger = createLogger({ level: 'info', format: 'pretty', destination: out });
    logger
      .child({ process: 'web.1' })
      .info(
        { http: 'http://127.0.0.1:5000', database: 'embedded', roles: ['api', 'smtp'], ms: 12 },
        'process started: api, smtp',
      );
    logger.warn({ nested: { a: 1, b: [1, 2] } }, 'a warning with a nested field');
    logger.info('a plain line');
    // pino-pretty formats in a stream of its own: wait until the three events came through
    for (let i = 0; i < 100 && text.split('\n').length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    const lines = text.split('\n').filter(Boolean);
    assert.equal(lines.length, 3, text);
    assert.match(lines[0]!, /INFO.*process started: api, smtp.*"process":"web\.1".*"database":"embedded"/);
    assert.match(lines[1]!, /WARN.*a warning with a nested field.*"nested":\{"a":1,"b":\[1,2\]\}/);
    assert.doesNotMatch(text, /"pid"/, 'the pid is left out');
  });
});
