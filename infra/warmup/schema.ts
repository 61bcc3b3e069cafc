/**
 * IP warm-up bookkeeping (infra/warmup/): when each sending address first appeared in an IP pool
 * (its warm-up's day 1), and how many messages it has taken today per provider (the allowance
 * reserved as messages are handed to it). State of the MTA, not of the log: nothing is projected.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 40: warm-up starts and daily counts. */
export const warmupTables = `
      CREATE TABLE ip_warmup_starts (
        address    text PRIMARY KEY,
        -- the pool it was first seen in (an address moved to another pool keeps its start)
        pool       text NOT NULL,
        started_on date NOT NULL
      );
      CREATE TABLE ip_warmup_counts (
        address  text NOT NULL,
        provider text NOT NULL,
        day      date NOT NULL,
        sent     integer NOT NULL DEFAULT 0 CHECK (sent >= 0),
        PRIMARY KEY (address, day, provider)
      );
`;
