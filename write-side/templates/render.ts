import Handlebars from 'handlebars';
import { LRUCache } from 'lru-cache';
import { err, ok, type Result } from '../../domain/index.js';
import type { TemplateContent } from '../../infra/templates/index.js';

export interface Rendered {
  subject: string;
  html: string | undefined;
  text: string | undefined;
}

export interface RenderError {
  code: 'TEMPLATE_RENDER_FAILED' | 'TEMPLATE_INVALID';
  message: string;
  /** The variable the model lacks, when that is why. */
  variable?: string;
  part: 'subject' | 'html' | 'text';
}

/**
 * Handlebars of its own (no helpers or partials registered by anyone else), strict: a variable the
 * model lacks fails the render with its name, instead of sending mail with a hole in it. The HTML
 * part escapes what it inserts ({{{triple}}} does not); the subject and text are not HTML and are
 * inserted as they are. Prototype properties stay out of reach (Handlebars' default since 4.6).
 */
const handlebars = Handlebars.create();
type Compiled = (model: unknown) => string;
const compiled = new LRUCache<string, Compiled>({ max: 500 });

function compile(source: string, html: boolean): Compiled {
  const key = `${html ? 'h' : 't'}:${source}`;
  let f = compiled.get(key);
  if (!f) {
    f = handlebars.compile(source, { strict: true, noEscape: !html });
    compiled.set(key, f);
  }
  return f;
}

const MISSING = /"([^"]+)" not defined in/;

function renderPart(
  source: string,
  html: boolean,
  model: unknown,
  part: RenderError['part'],
): Result<string, RenderError> {
  try {
    return ok(compile(source, html)(model));
  } catch (e) {
    const message = (e as Error).message.split('\n')[0]!;
    const missing = MISSING.exec(message)?.[1];
    if (missing)
      return err({
        code: 'TEMPLATE_RENDER_FAILED',
        message: `the ${part} needs {{${missing}}}, which the model does not have`,
        variable: missing,
        part,
      });
    return err({ code: 'TEMPLATE_INVALID', message: `the ${part} is not a valid template: ${message}`, part });
  }
}

/** The three parts of a template version rendered with a model. */
export function renderTemplate(
  content: TemplateContent,
  model: Record<string, unknown>,
): Result<Rendered, RenderError> {
  const subject = renderPart(content.subject, false, model, 'subject');
  if (!subject.ok) return subject;
  const html = content.html === null ? ok(undefined) : renderPart(content.html, true, model, 'html');
  if (!html.ok) return html;
  const text = content.text === null ? ok(undefined) : renderPart(content.text, false, model, 'text');
  if (!text.ok) return text;
  // a subject is one line: a model value with a line break must not start a header
  return ok({ subject: subject.value.replace(/[\r\n]+/g, ' '), html: html.value, text: text.value });
}

/** Whether a template's parts parse (a version is checked when written, not first when sent). */
export function checkTemplate(content: TemplateContent): RenderError | undefined {
  for (const [part, source] of [
    ['subject', content.subject],
    ['html', content.html],
    ['text', content.text],
  ] as const) {
    if (source === null) continue;
    try {
      handlebars.precompile(source, { strict: true });
    } catch (e) {
      return {
        code: 'TEMPLATE_INVALID',
        message: `the ${part} is not a valid template: ${(e as Error).message.split('\n')[0]}`,
        part,
      };
    }
  }
  return undefined;
}
