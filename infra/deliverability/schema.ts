/**
 * A server's deliverability settings (server-deliverability.ts): Feedback-ID, List-Unsubscribe on
 * SMTP-submitted mail, its own reputation thresholds. One row per server that set any; none: defaults.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 43 (with the reputation counts): the settings, as JSON (domain/tenancy/deliverability.ts). */
export const serverDeliverabilityTable = `
      CREATE TABLE server_deliverability (
        server_id  uuid PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
        settings   jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
`;
