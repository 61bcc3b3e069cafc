/**
 * Migration text that drops an index of `table` by what it indexes, whatever its name: a rebuild of
 * a projection swaps in copies of its tables whose indexes carry generated names. `definitionEnd`
 * is how pg_indexes.indexdef ends, e.g. `(server_id, status, accepted_at DESC)`. Historical
 * migrations keep their own copies of this block (their text never changes).
 */
export function dropIndexByDefinition(table: string, definitionEnd: string): string {
  const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return `
      DO $drop$
      DECLARE v_index text;
      BEGIN
        FOR v_index IN
          SELECT quote_ident(schemaname) || '.' || quote_ident(indexname) FROM pg_indexes
           WHERE tablename = ${literal(table)} AND schemaname = current_schema()
             AND indexdef LIKE ${literal(`%${definitionEnd}`)}
        LOOP
          EXECUTE 'DROP INDEX ' || v_index;
        END LOOP;
      END
      $drop$;
`;
}
