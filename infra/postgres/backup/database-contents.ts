import type pg from 'pg';
import { quoteIdent } from '../identifiers.js';
import type { BackupHeader, BackupSequence } from './backup-file.js';

/**
 * Work tables of a projection rebuild or verify (projections/maintenance.ts): remade from the log, and
 * gone once the rebuild ends, so not part of a backup.
 */
const isWorkTable = (name: string) => name.endsWith('__shadow') || name.endsWith('__old');

/** The tables of Postlog's schema, with their stored columns, each after the tables its foreign keys name. */
export async function tablesInOrder(client: pg.PoolClient): Promise<BackupHeader['tables']> {
  const { rows } = await client.query<{ name: string; columns: string[] }>(
    `SELECT c.relname AS name, array_agg(a.attname::text ORDER BY a.attnum) AS columns
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
      WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      GROUP BY c.relname ORDER BY c.relname`,
  );
  const { rows: references } = await client.query<{ child: string; parent: string }>(
    `SELECT child.relname AS child, parent.relname AS parent
       FROM pg_constraint k
       JOIN pg_class child ON child.oid = k.conrelid
       JOIN pg_class parent ON parent.oid = k.confrelid
      WHERE k.contype = 'f' AND child.relnamespace = current_schema()::regnamespace`,
  );
  const tables = rows.filter((t) => !isWorkTable(t.name));
  const order = referencedFirst(
    tables.map((t) => t.name),
    references,
  );
  const byName = new Map(tables.map((t) => [t.name, t]));
  return order.map((name) => byName.get(name)!);
}

/**
 * Names ordered so that a table comes after every table it references (a table referencing itself is
 * fine: PostgreSQL checks foreign keys at the end of each COPY). A cycle, which Postlog's schema does
 * not have, leaves its tables in name order at the end; their restore then fails on the foreign key.
 */
export function referencedFirst(names: string[], references: { child: string; parent: string }[]): string[] {
  const known = new Set(names);
  const waitingFor = new Map(names.map((n) => [n, new Set<string>()]));
  for (const r of references)
    if (r.child !== r.parent && known.has(r.child) && known.has(r.parent)) waitingFor.get(r.child)!.add(r.parent);
  const order: string[] = [];
  const placed = new Set<string>();
  for (let progress = true; progress; ) {
    progress = false;
    for (const name of names) {
      if (placed.has(name) || [...waitingFor.get(name)!].some((p) => !placed.has(p))) continue;
      order.push(name);
      placed.add(name);
      progress = true;
    }
  }
  return [...order, ...names.filter((n) => !placed.has(n))];
}

/** Every sequence of the schema with its value now (sequences are outside transactions: never behind the data). */
export async function sequenceValues(client: pg.PoolClient): Promise<BackupSequence[]> {
  const { rows } = await client.query<{ name: string; table: string | null; column: string | null }>(
    `SELECT s.relname AS name, t.relname AS "table", a.attname::text AS "column"
       FROM pg_class s
       LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
       LEFT JOIN pg_class t ON t.oid = d.refobjid
       LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace
      ORDER BY s.relname`,
  );
  const values: BackupSequence[] = [];
  for (const s of rows) {
    if (s.table !== null && isWorkTable(s.table)) continue;
    const { rows: value } = await client.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text AS last_value, is_called FROM ${quoteIdent(s.name)}`,
    );
    values.push({ ...s, lastValue: value[0]!.last_value, isCalled: value[0]!.is_called });
  }
  return values;
}

/** Names of the relations in the schema (tables, views, sequences): none in an empty database. */
export async function relationsInSchema(client: pg.Pool | pg.PoolClient): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class
      WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      ORDER BY relname LIMIT 6`,
  );
  return rows.map((r) => r.name);
}
