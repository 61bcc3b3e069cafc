/**
 * CSV as RFC 4180 writes it (fields quoted when they hold a quote, a comma or a line break; quotes
 * doubled; lines end in CRLF), made safe to open in a spreadsheet: a cell that starts with a
 * character a spreadsheet reads as the start of a formula (= + - @, and tab and carriage return,
 * OWASP's list) gets a leading apostrophe, so that a subject like `=HYPERLINK(…)` a sender chose
 * is shown as text, never evaluated.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell: null is empty. */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  const text = FORMULA_START.test(String(value)) ? `'${value}` : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One line, with its CRLF. */
export const csvLine = (cells: readonly (string | number | null)[]): string => `${cells.map(csvCell).join(',')}\r\n`;
