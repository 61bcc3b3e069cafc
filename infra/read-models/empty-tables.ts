import type pg from 'pg';

/**
 * Empties a projection's tables, in order: its reset on a version change, or the shadow copies a
 * verify fills (projections/maintenance.ts). The names are the ones to empty, live or shadow.
 */
export async function emptyTables(client: pg.ClientBase, tables: string[]): Promise<void> {
  for (const table of tables) await client.query(`DELETE FROM ${table}`);
}
