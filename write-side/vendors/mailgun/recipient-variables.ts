import { z } from 'zod';
import { badParameter, type MailgunFailure } from './mailgun-errors.js';

/** `recipient-variables`: a JSON object of each recipient's own values, keyed by address. */
export const RecipientVariables = z.record(z.string(), z.record(z.string(), z.unknown()));
export type RecipientVariables = z.infer<typeof RecipientVariables>;

export function parseRecipientVariables(json: string): RecipientVariables | MailgunFailure {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return badParameter('recipient-variables parameter is not valid JSON');
  }
  const parsed = RecipientVariables.safeParse(value);
  if (!parsed.success)
    return badParameter('recipient-variables parameter must be a JSON object of objects, keyed by address');
  // keyed by address as written; looked up case-insensitively, as mail addresses' domains are
  const lowered: RecipientVariables = {};
  for (const [address, vars] of Object.entries(parsed.data)) lowered[address.trim().toLowerCase()] = vars;
  return lowered;
}

/** The variables of one recipient as strings (numbers and objects as JSON), as Mailgun prints them. */
export function variablesOf(all: RecipientVariables, address: string): Record<string, string> {
  const vars = all[address.toLowerCase()] ?? {};
  return Object.fromEntries(
    Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? v : v === null ? '' : JSON.stringify(v)]),
  );
}

const PLACEHOLDER = /%recipient\.([A-Za-z0-9_.-]+?)%/g;

/**
 * Fills Mailgun's `%recipient.name%` placeholders; in HTML the values are escaped (as Postlog's own
 * `{{variables}}` are). Returns the names without a value: Postlog refuses the request rather than send a
 * message with a hole (or a raw placeholder) in it.
 */
export function fillRecipientVariables(
  text: string,
  vars: Record<string, string>,
  html: boolean,
): { text: string; missing: string[] } {
  const missing: string[] = [];
  const filled = text.replace(PLACEHOLDER, (_m, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      missing.push(name);
      return '';
    }
    return html ? escapeHtml(value) : value;
  });
  return { text: filled, missing };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
