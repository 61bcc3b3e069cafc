/**
 * Versioned schema migrations, applied in order, each in its own transaction. Never edit a
 * migration that has shipped: add a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'event log',
    sql: `
      CREATE TABLE streams (
        stream_id  text PRIMARY KEY,
        -- revision of the last event; -1 while a stream row exists without events
        revision   bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE events (
        -- global sequence: unique and increasing, but commits can land out of order, so readers
        -- order by (transaction_id, position) and only read transactions older than every running one
        position       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        event_id       uuid NOT NULL UNIQUE,
        stream_id      text NOT NULL,
        revision       bigint NOT NULL,
        type           text NOT NULL,
        schema_version integer NOT NULL,
        data           jsonb NOT NULL,
        metadata       jsonb NOT NULL,
        recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
        UNIQUE (stream_id, revision)
      );
      CREATE INDEX events_commit_order ON events (transaction_id, position);
      CREATE INDEX events_type ON events (type, transaction_id, position);
    `,
  },
];
