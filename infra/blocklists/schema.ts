/**
 * Blocklist monitoring (docs/deliverability.md, "Blocklist monitoring"): the current state of each
 * (target, list) whose state ever changed. A projection of the log (projections/blocklists/):
 * rebuilt from the IpListed, IpDelisted, DomainListed and DomainDelisted events.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 45: the state per (target, list). */
export const blocklistStatusTable = `
      CREATE TABLE blocklist_status (
        kind       text NOT NULL CHECK (kind IN ('ip', 'domain')),
        target     text NOT NULL,
        zone       text NOT NULL,
        listed     boolean NOT NULL,
        codes      text[] NOT NULL,
        reason     text NOT NULL,
        server_ids text[] NOT NULL,
        -- when it was listed or delisted
        since      timestamptz NOT NULL,
        PRIMARY KEY (kind, target, zone)
      );
`;
