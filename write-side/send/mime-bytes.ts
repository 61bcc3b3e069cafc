import { Encoder as Base64Encoder } from 'nodemailer/lib/base64';
import type MimeNode from 'nodemailer/lib/mime-node';
import { transformSync } from '../../infra/streams/index.js';
import { encodeQuotedPrintable } from './quoted-printable.js';

/** The parts of a MimeNode that decide whether it can be written without streams (not all in its typings). */
interface NodeInternals {
  _raw?: unknown;
  _transforms?: unknown[];
  _processFuncs?: unknown[];
  newline?: string | undefined;
}

/**
 * The bytes of a MimeNode tree built by nodemailer's MailComposer, written synchronously.
 *
 * nodemailer's own `build()` streams the tree: a PassThrough per node and per content, a stream
 * pipeline per message (each with an AbortController whose abort at the end builds a
 * DOMException), a setImmediate per step. For a message whose parts are all strings and Buffers
 * (every message the send API composes) that plumbing cost more CPU than the message itself.
 * This writes the same bytes in the same order, using nodemailer's header builder and its
 * quoted-printable and base64 encoders, so the output is byte for byte what `build()` gives (a
 * differential test holds it to that).
 *
 * Returns undefined for a tree that needs the streaming builder (stream, file or URL content, raw
 * nodes, transforms): the caller then uses `build()`.
 */
export function mimeBytes(root: MimeNode): Buffer | undefined {
  const r = root as unknown as NodeInternals;
  if ((r._transforms?.length ?? 0) > 0 || (r._processFuncs?.length ?? 0) > 0 || r.newline) return undefined;
  const chunks: Buffer[] = [];
  if (!writeNode(root, chunks)) return undefined;
  endWithNewline(chunks);
  return Buffer.concat(chunks);
}

/**
 * As nodemailer's LastNewline: a message ends with a line break, judged by the last byte
 * written (an empty part writes none).
 */
export function endWithNewline(chunks: Buffer[]): void {
  const last = chunks.findLast((c) => c.length > 0);
  const lastByte = last ? last[last.length - 1] : undefined;
  if (lastByte === 0x0d) chunks.push(Buffer.from('\n'));
  else if (lastByte !== 0x0a) chunks.push(Buffer.from('\r\n'));
}

/**
 * A part's content in its transfer encoding, as nodemailer's encoders write it (quoted-printable
 * by our own Buffer-level encoder, byte for byte the same); `binary`: outside of
 * text a lone CR or LF is data (as nodemailer's stream() decides). Undefined if an encoder did
 * not finish synchronously.
 */
export function encodeBody(bytes: Buffer, transferEncoding: string, binary: boolean): Buffer | undefined {
  if (transferEncoding === 'base64') return transformSync(new Base64Encoder({}), bytes);
  if (transferEncoding === 'quoted-printable') return encodeQuotedPrintable(bytes, binary);
  return bytes;
}

function writeNode(node: MimeNode, out: Buffer[]): boolean {
  if ((node as unknown as NodeInternals)._raw) return false;
  const content = node.content;
  if (content && typeof content !== 'string' && !Buffer.isBuffer(content)) return false;
  out.push(Buffer.from(`${node.buildHeaders()}\r\n\r\n`));
  // buildHeaders() wrote the node's transfer encoding into its headers (working it out scans the
  // whole content, so it is read back rather than worked out again)
  const transferEncoding = content
    ? String(node.getHeader('Content-Transfer-Encoding') ?? '')
        .toLowerCase()
        .trim()
    : '';
  if (content) {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content;
    const encoded = encodeBody(bytes, transferEncoding, !/^text\//i.test(node.contentType || ''));
    if (!encoded) return false;
    out.push(encoded);
  }
  if (node.multipart) {
    for (const [i, child] of node.childNodes.entries()) {
      out.push(Buffer.from(`${i > 0 ? '\r\n' : ''}--${node.boundary}\r\n`));
      if (!writeNode(child, out)) return false;
    }
    out.push(Buffer.from(`\r\n--${node.boundary}--\r\n`));
  }
  return true;
}
