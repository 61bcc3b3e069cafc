import type { FastifyRequest } from 'fastify';
import { badParameter, mailgunFailure, type MailgunFailure } from './mailgun-errors.js';

/** A file part of a Mailgun form: `attachment`, `inline` or (messages.mime) `message`. */
export interface MailgunFile {
  field: string;
  filename: string;
  contentType: string;
  content: Buffer;
}

/** A Mailgun request body: every field's values in the order sent (fields repeat: `to`, `o:tag`), and the files. */
export interface MailgunForm {
  fields: Map<string, string[]>;
  files: MailgunFile[];
}

/** How much a multipart body may hold: the parser's limits, and all its parts together. */
export interface FormLimits {
  /** One file: none larger than a whole message can be part of one. */
  fileBytes: number;
  /** All fields and files together, in bytes (a message cannot be larger than what it is made of). */
  totalBytes: number;
  files: number;
  fields: number;
}

/**
 * The body as Mailgun's API takes it: multipart/form-data (read here, part by part, with limits) or
 * application/x-www-form-urlencoded (already parsed by @fastify/formbody). Anything else is refused.
 */
export async function readMailgunForm(req: FastifyRequest, limits: FormLimits): Promise<MailgunForm | MailgunFailure> {
  const form: MailgunForm = { fields: new Map(), files: [] };
  const add = (name: string, value: string) => {
    const list = form.fields.get(name);
    if (list) list.push(value);
    else form.fields.set(name, [value]);
  };
  if (req.isMultipart()) {
    let total = 0;
    const tooLarge = () =>
      mailgunFailure('PAYLOAD_TOO_LARGE', `the request's fields and files exceed ${limits.totalBytes} bytes`);
    for await (const part of req.parts({
      limits: {
        fileSize: limits.fileBytes,
        fieldSize: limits.totalBytes,
        files: limits.files,
        fields: limits.fields,
        parts: limits.files + limits.fields,
      },
    })) {
      if (part.type === 'file') {
        const content = await part.toBuffer();
        total += content.length;
        if (total > limits.totalBytes) return tooLarge();
        form.files.push({
          field: part.fieldname,
          filename: part.filename || 'file',
          contentType: part.mimetype || 'application/octet-stream',
          content,
        });
      } else {
        // busboy cuts a value at fieldSize without an error: refused, never sent cut short
        if (part.valueTruncated || part.fieldnameTruncated) return tooLarge();
        // a part sent as application/json is parsed by the plugin: Mailgun's JSON fields are taken as their text
        const value = typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
        total += Buffer.byteLength(value);
        if (total > limits.totalBytes) return tooLarge();
        add(part.fieldname, value);
      }
    }
    return form;
  }
  const body = req.body;
  if (!isFormBody(req) || typeof body !== 'object' || body === null || Array.isArray(body))
    return mailgunFailure(
      'UNSUPPORTED_MEDIA_TYPE',
      'the body must be multipart/form-data or application/x-www-form-urlencoded',
    );
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== 'string') return badParameter(`${name} parameter is not a string`);
      add(name, v);
    }
  }
  return form;
}

const isFormBody = (req: FastifyRequest) =>
  (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');

/** The one value of a field that Mailgun takes once; given twice it is refused rather than one silently dropped. */
export function single(form: MailgunForm, name: string): string | undefined | MailgunFailure {
  const values = form.fields.get(name);
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) return badParameter(`${name} parameter is given ${values.length} times; it takes one value`);
  return values[0];
}

export const isFailure = (v: unknown): v is MailgunFailure =>
  typeof v === 'object' && v !== null && 'code' in v && 'message' in v && !Array.isArray(v);
