/**
 * Webhooks: endpoints, the outbox with its delivery log, what the webhook projection keeps about
 * each message, and Postlog's signing keys.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** The tables the webhook outbox projection writes (projections/webhooks/; its statements are in outbox-writes.ts). */
export const WEBHOOK_MESSAGES = 'webhook_messages';
export const WEBHOOK_DELIVERIES = 'webhook_deliveries';

/** Migration 9: the webhook tables. */
export const webhookTables = `
      CREATE TABLE webhook_endpoints (
        id                   uuid PRIMARY KEY,
        server_id            uuid NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
        url                  text NOT NULL,
        description          text NOT NULL DEFAULT '',
        -- webhook event names (MessageSent, …); NULL: every event
        events               text[],
        enabled              boolean NOT NULL DEFAULT true,
        -- HMAC-SHA256 key of X-Postlog-Signature; the previous one still signs for a day after a rotation
        secret               text NOT NULL,
        previous_secret      text,
        previous_secret_until timestamptz,
        -- circuit breaker: open (paused) while paused_until is ahead, half-open once it passed
        consecutive_failures integer NOT NULL DEFAULT 0,
        paused_until         timestamptz,
        created_at           timestamptz NOT NULL DEFAULT now(),
        updated_at           timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX webhook_endpoints_server ON webhook_endpoints (server_id, created_at);

      -- what payloads say about a message (MessageAccepted), kept by the webhook projection itself
      CREATE TABLE webhook_messages (
        message_id     bigint PRIMARY KEY,
        server_id      uuid NOT NULL,
        token          text NOT NULL,
        rfc_message_id text NOT NULL,
        mail_from      text NOT NULL,
        rcpt_to        text NOT NULL,
        subject        text NOT NULL,
        tag            text,
        metadata       jsonb,
        accepted_at    timestamptz NOT NULL
      );

      -- the outbox: one row per (endpoint, event), written with the projection's checkpoint
      CREATE TABLE webhook_deliveries (
        -- derived from (endpoint, event): the body's "uuid", the same on every retry
        id              uuid PRIMARY KEY,
        seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        event_id        uuid NOT NULL,
        event_type      text NOT NULL,
        webhook_event   text NOT NULL,
        stream_id       text NOT NULL,
        stream_revision bigint NOT NULL,
        event_at        timestamptz NOT NULL,
        body            text NOT NULL,
        status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts        integer NOT NULL DEFAULT 0,
        -- index into the retry schedule (a manual redelivery starts it again)
        retry_index     integer NOT NULL DEFAULT 0,
        -- the give-up age counts from here (the event, or the manual redelivery)
        retry_base_at   timestamptz NOT NULL,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        -- taken by a dispatcher until then (not indexed: leasing is a HOT update)
        lease_until     timestamptz,
        last_status_code integer,
        last_error      text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        finished_at     timestamptz,
        UNIQUE (endpoint_id, event_id)
      ) WITH (fillfactor = 80);
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
      -- per-message order: is an earlier event of this message still pending for this endpoint?
      CREATE INDEX webhook_deliveries_message_order ON webhook_deliveries (stream_id, stream_revision) WHERE status = 'pending';
      -- a queue table: fresh statistics and prompt clean-up of the rows that finished
      ALTER TABLE webhook_deliveries SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_scale_factor = 0.05);
      CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, seq DESC);
      CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at) WHERE status <> 'pending';

      -- every attempt: the delivery log
      CREATE TABLE webhook_attempts (
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        attempt     integer NOT NULL,
        at          timestamptz NOT NULL DEFAULT now(),
        status_code integer,
        duration_ms integer NOT NULL,
        response    text,
        error       text,
        PRIMARY KEY (delivery_id, attempt)
      );

      -- Postlog's own key pairs (webhook signatures, published at /.well-known/jwks.json)
      CREATE TABLE signing_keys (
        purpose         text PRIMARY KEY,
        kid             text NOT NULL,
        private_key_pem text NOT NULL,
        public_jwk      jsonb NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now()
      );
`;

/** Migration 31: the scanners' verdict of a message, for its webhooks' spam_status (NULL: not checked). */
export const messageFactsSpam = `
      ALTER TABLE webhook_messages ADD COLUMN spam_status text;
      ALTER TABLE webhook_messages ADD COLUMN spam_score real;
`;

/**
 * Migration 34: the body format an endpoint receives (domain/webhooks/formats/; 'postal' is what every
 * endpoint got before), and the ECDSA P-256 key pair that signs the 'sendgrid' format: the private key
 * sealed with the secrets key (SecretBox, the endpoint's id as context), the public one as base64 DER.
 * Each outbox row keeps the format its body was made in, so a row queued before its endpoint changed
 * format is still signed as its body needs.
 */
export const endpointFormats = `
      ALTER TABLE webhook_endpoints ADD COLUMN format text NOT NULL DEFAULT 'postal';
      ALTER TABLE webhook_endpoints ADD COLUMN ecdsa_private_key text;
      ALTER TABLE webhook_endpoints ADD COLUMN ecdsa_public_key text;
      ALTER TABLE webhook_deliveries ADD COLUMN format text NOT NULL DEFAULT 'postal';
`;

/** Migration 35: a message's send request (batch), which SendGrid-format events name in sg_message_id. */
export const messageFactsBatch = `
      ALTER TABLE webhook_messages ADD COLUMN batch_id text;
`;

/**
 * Migration 37 (secrets at rest): endpoint secrets and the signing key's private key sealed with
 * the secrets key (infra/secrets). The plaintext columns stay for values written before, sealed
 * and emptied at the next start (sealed-secrets.ts); nothing is written to them any more.
 */
export const webhookSecretsSealed = `
      ALTER TABLE webhook_endpoints ADD COLUMN secret_sealed text;
      ALTER TABLE webhook_endpoints ADD COLUMN previous_secret_sealed text;
      ALTER TABLE webhook_endpoints ALTER COLUMN secret DROP NOT NULL;
      ALTER TABLE webhook_endpoints ADD CONSTRAINT webhook_endpoints_secret_kept
        CHECK (secret IS NOT NULL OR secret_sealed IS NOT NULL);
      ALTER TABLE signing_keys ADD COLUMN private_key_sealed text;
      ALTER TABLE signing_keys ALTER COLUMN private_key_pem DROP NOT NULL;
      ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_private_key_kept
        CHECK (private_key_pem IS NOT NULL OR private_key_sealed IS NOT NULL);
`;
