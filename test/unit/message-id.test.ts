import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSubmittedHeaders } from '../../write-side/send/submitted-headers.js';
import { withMessageId } from '../../write-side/send/message-id.js';

const identify = (text: string) => {
  const raw = Buffer.from(text);
  const headers = readSubmittedHeaders(raw);
  assert.ok(headers.ok);
  const { raw: out, rfcMessageId } = withMessageId(raw, headers.value, 'mx.example');
  return { out: out.toString(), rfcMessageId };
};

describe('withMessageId: a message a client composed keeps its Message-ID or gets one in its bytes', () => {
  it('its own id: the bytes as they are', () => {
    const text = 'Received: x\r\nFrom: a@b.test\r\nMessage-ID: <own@b.test>\r\n\r\nbody\r\n';
    assert.deepEqual(identify(text), { out: text, rfcMessageId: 'own@b.test' });
  });

  it('none: a new id, as the header section’s last field (a trace field stays first)', () => {
    const { out, rfcMessageId } = identify('Received: x\r\nFrom: a@b.test\r\n\r\nbody\r\n\r\nmore\r\n');
    assert.match(rfcMessageId, /^[0-9a-f-]{36}@mx\.example$/);
    assert.equal(out, `Received: x\r\nFrom: a@b.test\r\nMessage-ID: <${rfcMessageId}>\r\n\r\nbody\r\n\r\nmore\r\n`);
    assert.notEqual(identify('From: a@b.test\r\n\r\nx\r\n').rfcMessageId, rfcMessageId);
  });

  it('a header section without a body, with or without its last line end', () => {
    const ended = identify('From: a@b.test\r\n');
    assert.equal(ended.out, `From: a@b.test\r\nMessage-ID: <${ended.rfcMessageId}>\r\n`);
    const unended = identify('From: a@b.test');
    assert.equal(unended.out, `From: a@b.test\r\nMessage-ID: <${unended.rfcMessageId}>\r\n`);
  });

  it('a Message-ID field that names no id: left as the client wrote it', () => {
    const text = 'From: a@b.test\r\nMessage-ID:\r\n\r\nx\r\n';
    assert.equal(identify(text).out, text);
  });
});
