/**
 * Send bookkeeping: message ids, idempotency keys, hourly send counts and the suppression list.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 2: the send bookkeeping. */
export const sendBookkeepingTables = `
      -- numeric message ids (Postal's API has integer ids); the stream is message-<id>
      CREATE SEQUENCE message_ids AS bigint;

      CREATE TABLE idempotency_keys (
        server_id     uuid NOT NULL,
        key           text NOT NULL,
        request_sha256 text NOT NULL,
        message_ids   bigint[] NOT NULL,
        status_code   integer,
        response      jsonb,
        created_at    timestamptz NOT NULL DEFAULT now(),
        completed_at  timestamptz,
        PRIMARY KEY (server_id, key)
      );

      -- messages accepted per server and hour, for servers with a send limit
      CREATE TABLE server_hourly_counts (
        server_id uuid NOT NULL,
        hour      timestamptz NOT NULL,
        accepted  integer NOT NULL,
        PRIMARY KEY (server_id, hour)
      );

      -- the suppression list; filled by bounces, complaints and unsubscribes (and the API)
      CREATE TABLE suppressions (
        server_id   uuid NOT NULL,
        address     text NOT NULL CHECK (address = lower(address)),
        reason      text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz,
        PRIMARY KEY (server_id, address)
      );
`;
