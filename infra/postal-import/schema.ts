/**
 * The Postal import's map: which Postlog record each imported Postal row became, so a rerun of
 * `postlog import postal` creates nothing twice.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 26: the map of imported ids. */
export const postalImportMapTable = `
      CREATE TABLE postal_import_map (
        -- organization, server, domain, credential, webhook, route
        kind        text NOT NULL,
        -- Postal's integer id (a domain: "<domain id>@<server id>")
        postal_id   text NOT NULL,
        postlog_id  uuid NOT NULL,
        imported_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, postal_id)
      );
`;

/**
 * Migration 36: messages imported from Postal's history (`--messages-days`) map to Postlog's
 * numeric message ids, not to uuids: the map keeps its ids as text (a uuid is text as well).
 */
export const postalImportMapTextIds = `
      ALTER TABLE postal_import_map ALTER COLUMN postlog_id TYPE text;
`;
