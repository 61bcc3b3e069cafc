import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENTS_TABLE, eventRowColumns, type EventRow } from '../../infra/clickhouse/events-table.js';
import { allMigrationStatements } from '../../infra/clickhouse/migrations.js';
import { literal, qualified } from '../../infra/clickhouse/sql.js';

/**
 * A current ClickHouse engine for dialect checks: chdb (embedded ClickHouse, `pip install chdb`;
 * `.ci/run` installs it) driven by chdb-check.py. Our SQL runs on ClickHouse 18.16 in the tests;
 * this proves the same statements are valid on current releases too.
 */

// The .py lives beside the .ts sources; compiled tests run from dist/test/helpers.
const here = dirname(fileURLToPath(import.meta.url));
export const chdbCheckScript = join(here, '..', '..', '..', 'test', 'helpers', 'chdb-check.py');

let availability: string | undefined | null = null;

/** Why dialect checks must skip here, or undefined when chdb is importable. */
export function chdbSkipReason(): string | undefined {
  if (availability === null) {
    const probe = spawnSync('python3', ['-c', 'import chdb'], { encoding: 'utf8' });
    availability =
      probe.status === 0
        ? undefined
        : `chdb is not importable by python3 (pip install chdb; .ci/run does it): dialect checks skipped. ${(probe.stderr ?? probe.error?.message ?? '').trim().split('\n').at(-1) ?? ''}`;
  }
  return availability;
}

export interface DialectFailure {
  phase: 'setup' | 'query';
  statement: string;
  error: string;
}

export interface DialectReport {
  /** chdb's ClickHouse version, e.g. 26.9.2.1 */
  version: string;
  failures: DialectFailure[];
  /** Rows each query returned, in order. */
  queryRows: number[];
  /** Each query's rows, parsed from JSONEachRow (the first 64 KiB of its output). */
  queryOutputs: Record<string, unknown>[][];
}

/**
 * Runs `setup` statements (DDL, inserts) for real in one chdb session, then `queries` against the
 * tables they made; reports every statement that current ClickHouse refused.
 */
export async function checkDialect(input: { setup: string[]; queries?: string[] }): Promise<DialectReport> {
  const child = spawn('python3', [chdbCheckScript], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
  child.stdin.end(JSON.stringify({ setup: input.setup, queries: input.queries ?? [] }));
  const code = await exited;
  const lastLine = stdout.trim().split('\n').at(-1) ?? '';
  let parsed: {
    version?: string;
    unavailable?: string;
    results?: {
      phase: 'setup' | 'query';
      index: number;
      ok: boolean;
      error?: string;
      rows?: number;
      output?: string;
    }[];
  };
  try {
    parsed = JSON.parse(lastLine);
  } catch {
    throw new Error(`chdb-check.py exited ${code} without a report:\n${stderr.slice(-2000)}${stdout.slice(-2000)}`);
  }
  if (parsed.unavailable) throw new Error(parsed.unavailable);
  const results = parsed.results ?? [];
  const statementOf = (phase: 'setup' | 'query', index: number) =>
    (phase === 'setup' ? input.setup[index] : input.queries?.[index]) ?? '';
  return {
    version: parsed.version ?? 'unknown',
    failures: results
      .filter((r) => !r.ok)
      .map((r) => ({ phase: r.phase, statement: statementOf(r.phase, r.index), error: r.error ?? '' })),
    queryRows: results.filter((r) => r.phase === 'query').map((r) => r.rows ?? 0),
    queryOutputs: results
      .filter((r) => r.phase === 'query')
      .map((r) =>
        (r.output ?? '')
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => JSON.parse(line) as Record<string, unknown>),
      ),
  };
}

/**
 * For report queries: creates Postlog's ClickHouse schema (every migration, in order) in a chdb
 * session, inserts `rows` into the events table (through the same literal() the server path uses),
 * then runs `queries` against it. Returns chdb's failures; callers assert there are none.
 */
export async function checkQueriesOnCurrentClickHouse(
  queries: string[],
  options: { database?: string; rows?: EventRow[] } = {},
): Promise<DialectReport> {
  const database = options.database ?? 'postlog';
  const setup = allMigrationStatements(database);
  const rows = options.rows ?? [];
  if (rows.length > 0) {
    const values = rows.map((r) => `(${eventRowColumns.map((c) => literal(r[c])).join(', ')})`).join(',\n');
    setup.push(
      `INSERT INTO ${qualified(database, EVENTS_TABLE).text} (${eventRowColumns.join(', ')}) VALUES ${values}`,
    );
  }
  return checkDialect({ setup, queries });
}
