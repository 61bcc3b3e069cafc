/**
 * The one way values and names reach ClickHouse SQL. ClickHouse 18.16 (Debian's package, which we
 * must support) has no query parameters ({name:Type} arrives in 19.x; 18.16 answers "Unknown setting
 * param_x"), so every value is written into the statement as a literal, by literal() here and
 * nowhere else. Prefer the sql`` tag, which passes every interpolation through literal() unless it
 * is already a fragment (identifier(), raw(), another sql``).
 */

/** A value literal() can write. */
export type SqlValue = string | number | bigint | boolean | Date | null | readonly SqlValue[];

/** A piece of SQL that is already safe: the sql`` tag inserts it verbatim. */
export class SqlFragment {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** A value that cannot be written as ClickHouse SQL (NaN, ±Infinity, an invalid Date, an object…). */
export class SqlValueError extends TypeError {
  readonly code = 'CLICKHOUSE_INVALID_VALUE';
}

// DateTime is seconds since the epoch in a UInt32: a Date outside it would wrap around silently.
const MAX_DATETIME_SECONDS = 2 ** 32 - 1;

/**
 * A ClickHouse literal for a value: strings quoted and escaped, numbers as written, Date as
 * toDateTime(unix seconds) (whole seconds, an instant: independent of the server's time zone),
 * booleans as 1/0 (18.16 has no Bool), null as NULL, arrays as [..].
 */
export function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      return `'${escapeText(value, "'")}'`;
    case 'number':
      if (!Number.isFinite(value)) throw new SqlValueError(`cannot write ${value} as a ClickHouse literal`);
      // Parenthesised when negative, so "a-${x}" can never become the comment "a--5".
      if (value === 0) return '0'; // also -0
      return value < 0 ? `(${String(value)})` : String(value);
    case 'bigint':
      return value < 0n ? `(${value.toString()})` : value.toString();
    case 'boolean':
      return value ? '1' : '0';
    case 'object':
      if (value instanceof Date) return `toDateTime(${unixSeconds(value)})`;
      if (Array.isArray(value)) return `[${value.map((v) => literal(v)).join(', ')}]`;
      break;
  }
  throw new SqlValueError(`cannot write a ${describe(value)} as a ClickHouse literal`);
}

/** A quoted identifier (database, table, column), e.g. `events` or `my``table`. */
export function identifier(name: string): SqlFragment {
  if (typeof name !== 'string' || name.length === 0)
    throw new SqlValueError('an identifier must be a non-empty string');
  return new SqlFragment(`\`${escapeText(name, '`')}\``);
}

/** database.table, both quoted. */
export function qualified(database: string, table: string): SqlFragment {
  return new SqlFragment(`${identifier(database).text}.${identifier(table).text}`);
}

/** Trusted SQL text (keywords, a column list, a migration): never anything a user sent. */
export function raw(text: string): SqlFragment {
  return new SqlFragment(text);
}

/**
 * Tagged template: sql`SELECT count() FROM ${qualified(db, 'events')} WHERE server_id = ${serverId}`.
 * Fragments go in as they are; every other interpolation goes through literal().
 */
export function sql(strings: TemplateStringsArray, ...values: (SqlValue | SqlFragment)[]): SqlFragment {
  let text = strings[0]!;
  values.forEach((value, i) => {
    text += (value instanceof SqlFragment ? value.text : literal(value)) + strings[i + 1]!;
  });
  return new SqlFragment(text);
}

/** Joins fragments/values with a separator (", " by default), e.g. for IN lists built from fragments. */
export function join(parts: readonly (SqlValue | SqlFragment)[], separator = ', '): SqlFragment {
  return new SqlFragment(parts.map((p) => (p instanceof SqlFragment ? p.text : literal(p))).join(separator));
}

/** Whole seconds since the epoch, the value of a DateTime column (for JSONEachRow rows too). */
export function unixSeconds(date: Date): number {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new SqlValueError('cannot write an invalid Date as a ClickHouse DateTime');
  const seconds = Math.floor(ms / 1000);
  if (seconds < 0 || seconds > MAX_DATETIME_SECONDS)
    throw new SqlValueError(`${date.toISOString()} is outside ClickHouse's DateTime range (1970 to 2106)`);
  return seconds;
}

/**
 * Escapes for a quoted string or identifier. Backslash and the quote get a backslash; every
 * control character (C0 and DEL) becomes \xHH so no NUL, newline or terminal escape reaches the
 * statement raw; everything else passes as UTF-8. Lone UTF-16 surrogates (not encodable in UTF-8)
 * become U+FFFD, which is what sending them would do anyway: made explicit, so the value read
 * back is the value literal() was given with lone surrogates replaced (String#toWellFormed).
 */
function escapeText(text: string, quote: "'" | '`'): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff)
      out += '\ufffd'; // a lone surrogate (pairs arrive as one code point)
    else if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return value?.constructor?.name ?? 'object';
  return typeof value;
}
