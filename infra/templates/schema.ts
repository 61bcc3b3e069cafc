/**
 * Server-side templates (template-store.ts owns every statement on these tables).
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 23: templates per server, each change a new version (sent messages name the version they used). */
export const templateTables = `
      CREATE TABLE message_templates (
        id              uuid PRIMARY KEY,
        server_id       uuid NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
        -- how senders name it (Postmark's Alias, SendGrid's and Mailgun's template name)
        alias           text NOT NULL CHECK (alias ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
        name            text NOT NULL,
        current_version integer NOT NULL DEFAULT 1,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        UNIQUE (server_id, alias)
      );
      CREATE TABLE message_template_versions (
        template_id uuid NOT NULL REFERENCES message_templates (id) ON DELETE CASCADE,
        version     integer NOT NULL,
        subject     text NOT NULL,
        html        text,
        text        text,
        created_by  text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (template_id, version)
      );
`;
