/**
 * The MIME tree of a raw message, read at the byte level and never decoded: every entity (the
 * message, each part of a multipart, at any depth) as offsets into the message's bytes, with its
 * header fields. Whoever changes a part replaces exactly its byte range, so every other byte
 * (headers, other parts, boundaries, preamble and epilogue) stays as the sender wrote it.
 *
 * The bytes are canonical (domain/values/message-bytes.ts): every line ends with CRLF.
 */

/** One header field: its bytes are `[start, end)`, the CRLF of its last line included. */
export interface MimeField {
  /** Lower-cased. */
  name: string;
  /** Unfolded and trimmed, read as latin1 (one character per byte). */
  value: string;
  start: number;
  end: number;
}

export interface MimeEntity {
  /** `[start, end)`: the entity's bytes (header and body). */
  start: number;
  end: number;
  /** Where the body begins: just past the empty line that ends the header (`end` if there is none). */
  bodyStart: number;
  /** Where a field would be added: the start of the empty line that ends the header. */
  headerEnd: number;
  fields: MimeField[];
  /** e.g. text/html, lower-cased; text/plain where the header names none (RFC 2045 §5.2). */
  type: string;
  /** Content-Type parameters, names lower-cased. */
  params: Record<string, string>;
  /** The parts of a multipart entity whose delimiters were found; [] otherwise. */
  children: MimeEntity[];
}

const CR = 0x0d;
const LF = 0x0a;
/** Deeper trees are not read further (a hostile message could nest without end). */
const MAX_DEPTH = 32;

/** The entity of a whole message. */
export function parseMimeMessage(raw: Buffer): MimeEntity {
  return parseEntity(raw, 0, raw.length, 0, 'text/plain');
}

/** The message's own header fields only, without reading its body (the cheap way to one field). */
export function readMessageHeader(raw: Buffer): MimeField[] {
  return readHeader(raw, 0, raw.length).fields;
}

export function fieldValue(entity: MimeEntity, name: string): string | undefined {
  return entity.fields.find((f) => f.name === name)?.value;
}

/** Every entity of the tree, the root first, depth first. */
export function allEntities(root: MimeEntity): MimeEntity[] {
  return [root, ...root.children.flatMap(allEntities)];
}

function parseEntity(raw: Buffer, start: number, end: number, depth: number, defaultType: string): MimeEntity {
  const { fields, headerEnd, bodyStart } = readHeader(raw, start, end);
  const contentType = fields.find((f) => f.name === 'content-type')?.value;
  const { type, params } = contentType ? parseContentType(contentType) : { type: defaultType, params: {} };
  const entity: MimeEntity = { start, end, bodyStart, headerEnd, fields, type, params, children: [] };
  if (type.startsWith('multipart/') && params.boundary && depth < MAX_DEPTH) {
    // RFC 2046 §5.1.5: in multipart/digest a part without a Content-Type is a message
    const childType = type === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
    entity.children = splitParts(raw, bodyStart, end, params.boundary).map(([s, e]) =>
      parseEntity(raw, s, e, depth + 1, childType),
    );
  }
  return entity;
}

/** The header fields, up to the first empty line. */
function readHeader(
  raw: Buffer,
  start: number,
  end: number,
): { fields: MimeField[]; headerEnd: number; bodyStart: number } {
  const fields: MimeField[] = [];
  let line = start;
  while (line < end) {
    const lf = raw.indexOf(LF, line);
    const next = lf === -1 || lf >= end ? end : lf + 1;
    if (raw[line] === CR && raw[line + 1] === LF)
      return { fields: named(raw, fields), headerEnd: line, bodyStart: line + 2 };
    const folded = raw[line] === 0x20 || raw[line] === 0x09;
    const last = fields[fields.length - 1];
    if (folded && last) last.end = next;
    else fields.push({ name: '', value: '', start: line, end: next });
    line = next;
  }
  return { fields: named(raw, fields), headerEnd: end, bodyStart: end };
}

/** Each field's name and unfolded value, read from its bytes. */
function named(raw: Buffer, fields: MimeField[]): MimeField[] {
  for (const f of fields) {
    const text = raw.toString('latin1', f.start, f.end).replace(/\r\n/g, '');
    const colon = text.indexOf(':');
    f.name = (colon === -1 ? text : text.slice(0, colon)).trim().toLowerCase();
    f.value = colon === -1 ? '' : text.slice(colon + 1).trim();
  }
  return fields;
}

/**
 * The byte ranges of a multipart body's parts (RFC 2046 §5.1.1): a delimiter is a line that is
 * `--boundary` (then optional white space) at the start of the body or after a CRLF; the CRLF
 * before it belongs to the delimiter, not to the part. A body whose close delimiter is missing
 * ends its last part at the end of the entity (as readers do).
 */
function splitParts(raw: Buffer, bodyStart: number, end: number, boundary: string): [number, number][] {
  const dash = Buffer.from(`--${boundary}`, 'latin1');
  const parts: [number, number][] = [];
  let partStart = -1;
  let from = bodyStart;
  for (;;) {
    const at = raw.indexOf(dash, from);
    if (at === -1 || at + dash.length > end) break;
    from = at + dash.length;
    const lineStart = at === bodyStart || (raw[at - 2] === CR && raw[at - 1] === LF);
    if (!lineStart) continue;
    const close = raw[from] === 0x2d && raw[from + 1] === 0x2d;
    let after = close ? from + 2 : from;
    while (raw[after] === 0x20 || raw[after] === 0x09) after++;
    const atLineEnd = after >= end || (raw[after] === CR && raw[after + 1] === LF);
    if (!atLineEnd) continue;
    const delimiterStart = at === bodyStart ? at : at - 2;
    if (partStart !== -1) parts.push([partStart, Math.max(partStart, delimiterStart)]);
    if (close) return parts;
    partStart = Math.min(after + 2, end);
    from = partStart;
  }
  if (partStart !== -1) parts.push([partStart, end]);
  return parts;
}

/** `type/subtype; name=value; name="quoted value"` (comments and RFC 2231 continuations are rare here). */
export function parseContentType(value: string): { type: string; params: Record<string, string> } {
  const semicolon = value.indexOf(';');
  const type = (semicolon === -1 ? value : value.slice(0, semicolon))
    .replace(/\([^)]*\)/g, '')
    .trim()
    .toLowerCase();
  const params: Record<string, string> = {};
  const rest = semicolon === -1 ? '' : value.slice(semicolon + 1);
  const param = /\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))\s*;?/g;
  for (let m = param.exec(rest); m; m = param.exec(rest)) {
    const name = m[1]!.toLowerCase();
    if (!(name in params)) params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
    if (m[0].length === 0) param.lastIndex++;
  }
  return { type: type || 'text/plain', params };
}
