/** A PostgreSQL identifier in double quotes, inner quotes doubled: safe in SQL text whatever the name. */
export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
