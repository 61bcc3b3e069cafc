import { z } from 'zod';
import { cliError } from './errors.js';

const Uuid = z.uuid();

/** Whether a value has the shape of an id (a UUID). */
export const isId = (value: string): boolean => Uuid.safeParse(value).success;

/**
 * A commander argument parser for an id option or argument: a value that is not a UUID ends the
 * command with INVALID_ID (a usage error, exit 2) before the database is opened, instead of
 * PostgreSQL's "invalid input syntax for type uuid".
 */
export function idOf(label: string, what: string): (value: string) => string {
  return (value) => {
    if (!isId(value)) cliError('INVALID_ID', `${label} must be ${what} (a UUID)`);
    return value;
  };
}

/** A commander parser for a port option: a number from 0 (any free port) to 65535, or a usage error. */
export function portOf(label: string): (value: string) => number {
  return (value) => {
    const port = Number(value);
    if (!/^\d+$/.test(value) || port > 65535) cliError('INVALID_OPTION', `${label} must be a port number (0-65535)`);
    return port;
  };
}

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

/** Rows as an aligned text table (one line per row), or `empty` when there are none. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[], empty: string): string {
  if (rows.length === 0) return `${empty}\n`;
  const cells = rows.map((row) => columns.map((c) => cell(c.value(row))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}

function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

/**
 * One record for a person: a title line, then its fields as aligned `label: value` lines (a field
 * without a value is left out), then what to do next. --json prints the record itself instead.
 */
export function record(title: string, fields: readonly [string, unknown][], next: readonly string[] = []): string {
  const shown = fields.filter(([, value]) => value !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => label.length + 1));
  const lines = shown.map(([label, value]) => `  ${`${label}:`.padEnd(width)}  ${cell(value)}`);
  return `${[title, ...lines, ...next].join('\n')}\n`;
}

/** A command's answer as one line of JSON (--json). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
