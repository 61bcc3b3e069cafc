import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, drainStream, type ClickHouseClient } from '@clickhouse/client';
import type { z } from 'zod';
import type { Logger } from '../logging/index.js';
import { encodeRowBinary, type RowBinaryColumn } from './row-binary.js';
import { identifier, qualified, type SqlFragment } from './sql.js';

/**
 * Postlog's ClickHouse connection: @clickhouse/client 1.23, set up so it works with ClickHouse
 * 18.16 (Debian's package, what the tests run) as well as current releases.
 *
 * What 18.16 accepts, checked against the real server (see the README's ClickHouse section):
 * - it fails a request on any setting it does not know ("Code: 115 Unknown setting …", HTTP 404),
 *   and the client sends every clickhouse_settings entry as a URL parameter. So: only settings
 *   18.16 has (wait_end_of_query, output_format_json_quote_64bit_integers, send_progress_in_http_headers,
 *   date_time_input_format, enable_http_compression, insert_deduplicate all work; async_insert does not).
 * - query_params are sent as param_<name>, which 18.16 takes for an unknown setting: never used.
 *   Values go into the SQL through sql.ts (literal()).
 * - query_id, session_id, Basic auth, /ping, gzip both ways, JSONEachRow in and out, JSON out,
 *   RowBinary in (through exec(); insert() does not offer it): fine. JSONCompactEachRow does not
 *   exist in 18.16 ("Unknown format").
 * - its error text ("Code: 60, e.displayText() = DB::Exception: …") lacks the "(TYPE)" the client's
 *   parser wants, so the client throws a plain Error; we read the code ourselves (ClickHouseError).
 * - without wait_end_of_query an exception thrown mid-result arrives after HTTP 200, inside the body;
 *   queries set wait_end_of_query=1 so it is a proper HTTP 500 instead (results are small reports).
 * - the `database` URL parameter needs the database to exist, and migrations create it: so no
 *   default database here; our statements name tables in full (table(), qualified()).
 */

export interface ClickHouseConfig {
  /** HTTP endpoint, e.g. http://127.0.0.1:8123 */
  url: string;
  /** The database Postlog's tables live in (created by the migrations). */
  database: string;
  user?: string;
  password?: string;
  /** Per request; inserts of a large batch take longest. */
  requestTimeoutMs?: number;
  maxOpenConnections?: number;
  logger?: Logger;
}

/** A statement ClickHouse refused, or a request that failed; code is ClickHouse's error code when it sent one. */
export class ClickHouseError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    /** The beginning of the statement, for logs. */
    readonly statement: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ClickHouseError';
  }
}

export interface ClickHouse {
  readonly database: string;
  /** `database`.`name`, quoted. */
  table(name: string): SqlFragment;
  /** DDL and other statements without a result. */
  command(statement: string | SqlFragment): Promise<void>;
  /** INSERT rows (objects keyed by column) into a table of our database, as JSONEachRow: one request, one insert block. */
  insert(table: string, rows: readonly object[]): Promise<void>;
  /**
   * INSERT rows as RowBinary (row-binary.ts): the fast path for bulk event inserts, well under the
   * CPU of JSONEachRow on both sides. `columns` name the table's columns and their types, in order.
   */
  insertBinary(table: string, columns: readonly RowBinaryColumn[], rows: readonly object[]): Promise<void>;
  /** A SELECT's rows (JSONEachRow; 64-bit integers as JSON numbers). With a schema, every row is validated. */
  query<T = Record<string, unknown>>(statement: string | SqlFragment, rowSchema?: z.ZodType<T>): Promise<T[]>;
  /** True when the server answers a SELECT 1 with these credentials (GET /ping would not check them). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * JSONEachRow rows for INSERT. JSON.stringify writes a lone UTF-16 surrogate as "\udXXX", which
 * 18.16 refuses ("missing second part of surrogate pair") and fails the whole batch: such strings
 * are written with U+FFFD instead, as literal() does. The check is one substring search per row,
 * the replacer only runs for the rare row that needs it.
 */
function stringifyRow(value: unknown): string {
  const text = JSON.stringify(value);
  return text.includes('\\ud')
    ? JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? v.replace(/\p{Surrogate}/gu, '\ufffd') : v))
    : text;
}

export function createClickHouse(config: ClickHouseConfig): ClickHouse {
  const client: ClickHouseClient = createClient({
    url: config.url,
    username: config.user ?? 'default',
    password: config.password ?? '',
    request_timeout: config.requestTimeoutMs ?? 120_000,
    max_open_connections: config.maxOpenConnections ?? 10,
    // Loopback or a LAN: compression costs more CPU than it saves (2-core machines); 18.16 supports both if wanted.
    compression: { request: false, response: false },
    // We throw every failure to the caller (who logs it): the client's own console logging would double it.
    log: { level: ClickHouseLogLevel.OFF },
    json: { parse: JSON.parse, stringify: stringifyRow },
  });
  const log = config.logger?.child({ component: 'clickhouse' });

  const fail = (error: unknown, statement: string): never => {
    const text = error instanceof Error ? error.message : String(error);
    // 18.16: "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() = DB::Exception"
    // current: "Code: 60. DB::Exception: Table x does not exist. (UNKNOWN_TABLE) (version …)"
    const code = /Code: (\d+)/.exec(text)?.[1] ?? (error as { code?: unknown }).code;
    const message = text
      .replace(/, e\.what\(\) = DB::Exception\s*$/s, '')
      .replace(/^Code: \d+, e\.displayText\(\) = /, '')
      .trim();
    const preview = statement.length > 300 ? `${statement.slice(0, 300)}…` : statement;
    log?.debug({ err: error, statement: preview }, 'clickhouse request failed');
    throw new ClickHouseError(
      message,
      code === undefined || Number.isNaN(Number(code)) ? undefined : Number(code),
      preview,
      { cause: error },
    );
  };

  return {
    database: config.database,
    table: (name) => qualified(config.database, name),
    async command(statement) {
      const text = String(statement);
      try {
        // wait_end_of_query: the answer comes after the statement finished, errors included.
        await client.command({ query: text, clickhouse_settings: { wait_end_of_query: 1 } });
      } catch (error) {
        fail(error, text);
      }
    },
    async insert(table, rows) {
      if (rows.length === 0) return;
      const target = qualified(config.database, table).text;
      try {
        await client.insert({ table: target, values: rows as unknown[], format: 'JSONEachRow' });
      } catch (error) {
        fail(error, `INSERT INTO ${target} FORMAT JSONEachRow (${rows.length} rows)`);
      }
    },
    async insertBinary(table, columns, rows) {
      if (rows.length === 0) return;
      const statement = `INSERT INTO ${qualified(config.database, table).text} (${columns.map((c) => identifier(c.name).text).join(', ')}) FORMAT RowBinary`;
      const body = encodeRowBinary(rows, columns);
      try {
        const result = await client.exec({ query: statement, values: Readable.from([body]) });
        await drainStream(result.stream);
      } catch (error) {
        fail(error, `${statement} (${rows.length} rows)`);
      }
    },
    async query<T>(statement: string | { text: string }, rowSchema?: z.ZodType<T>): Promise<T[]> {
      const text = String(statement);
      let rows: unknown[];
      try {
        const result = await client.query({
          query: text,
          format: 'JSONEachRow',
          clickhouse_settings: { wait_end_of_query: 1, output_format_json_quote_64bit_integers: 0 },
        });
        rows = await result.json<unknown>();
      } catch (error) {
        return fail(error, text);
      }
      if (!rowSchema) return rows as T[];
      return rows.map((row) => rowSchema.parse(row));
    },
    async ping() {
      const result = await client.ping({ select: true });
      if (!result.success) log?.debug({ err: result.error }, 'clickhouse ping failed');
      return result.success;
    },
    close: () => client.close(),
  };
}
