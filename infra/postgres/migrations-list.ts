/**
 * Versioned schema migrations, applied in order, each in its own transaction. Never edit a
 * migration that has shipped: add a new one.
 */
/** An index built with CREATE INDEX CONCURRENTLY: writers of its table are not held up meanwhile. */
export interface ConcurrentIndex {
  name: string;
  table: string;
  /** What follows `ON <table>`, e.g. `(created_at, sha256)` or `USING brin (at)`. */
  definition: string;
}

/**
 * A schema change. `sql` runs in one transaction with the record of the migration. Indexes on
 * tables that may be large in a running installation go in `concurrentIndexes` instead (then
 * without `sql`): built without blocking writes (an upgrade does not stop accepting mail while
 * they build), outside a transaction, and the migration is recorded once all are valid.
 */
export type Migration = { version: number; name: string } & (
  | { sql: string; concurrentIndexes?: undefined }
  | { sql?: undefined; concurrentIndexes: ConcurrentIndex[] }
);

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

      -- Group commit in one round trip: many appends, each with its own optimistic-concurrency
      -- check, written by one statement (one transaction, one WAL flush). An append whose check
      -- fails writes nothing and gets its own outcome; the others commit.
      -- p_expected: -1 no_stream, -2 any, -3 stream_exists, n >= 0 exact revision.
      -- Outcomes: written | idempotent | wrong_expected_revision | duplicate_event_id.
      CREATE FUNCTION postlog_append_batch(
        p_streams text[], p_expected bigint[], p_counts int[],
        p_ids uuid[], p_event_streams text[], p_types text[], p_versions int[], p_data jsonb[], p_meta jsonb[],
        -- atomic: all appends commit or none does (a multi-recipient send)
        p_atomic boolean DEFAULT false
      ) RETURNS TABLE (append_index int, outcome text, revision bigint, last_position bigint, last_txid text, event_id uuid)
      LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        n_events int := coalesce(array_length(p_ids, 1), 0);
        v_revs jsonb;
        v_found jsonb;
        v_keep boolean[] := array_fill(false, ARRAY[n_events]);
        v_rev bigint[] := array_fill(0::bigint, ARRAY[n_events]);
        v_w_index int[] := '{}';
        v_w_last uuid[] := '{}';
        v_w_rev bigint[] := '{}';
        v_pos jsonb;
        v_off int := 0;
        v_n int; v_cur bigint; v_exp bigint; v_stream text;
        v_known int; v_foreign uuid; v_best jsonb; v_f jsonb;
        v_fail jsonb;
        i int; j int;
      BEGIN
        -- create missing stream rows, then lock every stream of the batch in a fixed order:
        -- racing creators serialise on the row, and sorted locking cannot deadlock
        INSERT INTO streams (stream_id, revision)
          SELECT s, -1 FROM (SELECT DISTINCT unnest(p_streams) AS s) d ORDER BY s ON CONFLICT DO NOTHING;
        SELECT coalesce(jsonb_object_agg(l.stream_id, l.revision), '{}') INTO v_revs
          FROM (SELECT st.stream_id, st.revision FROM streams st WHERE st.stream_id = ANY(p_streams) ORDER BY st.stream_id FOR UPDATE) l;
        SELECT coalesce(jsonb_object_agg(e.event_id::text, jsonb_build_object('s', e.stream_id, 'p', e.position, 't', e.transaction_id::text)), '{}')
          INTO v_found FROM events e WHERE e.event_id = ANY(p_ids);

        FOR i IN 1 .. coalesce(array_length(p_streams, 1), 0) LOOP
          v_stream := p_streams[i]; v_n := p_counts[i]; v_exp := p_expected[i];
          v_cur := (v_revs ->> v_stream)::bigint;
          v_known := 0; v_foreign := NULL; v_best := NULL;
          IF v_found <> '{}'::jsonb THEN
            FOR j IN v_off + 1 .. v_off + v_n LOOP
              v_f := v_found -> (p_ids[j]::text);
              IF v_f IS NOT NULL THEN
                v_known := v_known + 1;
                IF v_f ->> 's' <> v_stream THEN v_foreign := p_ids[j]; END IF;
                IF v_best IS NULL OR (v_f ->> 'p')::bigint > (v_best ->> 'p')::bigint THEN v_best := v_f; END IF;
              END IF;
            END LOOP;
          END IF;
          IF v_known > 0 THEN
            append_index := i; revision := v_cur; last_position := NULL; last_txid := NULL; event_id := NULL;
            IF v_known = v_n AND v_foreign IS NULL THEN
              -- a retry of an append that already committed: answer as the original did
              outcome := 'idempotent'; last_position := (v_best ->> 'p')::bigint; last_txid := v_best ->> 't';
            ELSE
              outcome := 'duplicate_event_id';
              event_id := coalesce(v_foreign, (SELECT p_ids[k] FROM generate_series(v_off + 1, v_off + v_n) k WHERE v_found ? (p_ids[k]::text) LIMIT 1));
            END IF;
            IF outcome <> 'idempotent' THEN v_fail := jsonb_build_object('index', i, 'outcome', outcome, 'revision', v_cur, 'eventId', event_id); END IF;
            RETURN NEXT;
          ELSIF (v_exp = -1 AND v_cur <> -1) OR (v_exp = -3 AND v_cur < 0) OR (v_exp >= 0 AND v_cur <> v_exp) THEN
            append_index := i; outcome := 'wrong_expected_revision'; revision := v_cur;
            last_position := NULL; last_txid := NULL; event_id := NULL;
            v_fail := jsonb_build_object('index', i, 'outcome', outcome, 'revision', v_cur);
            RETURN NEXT;
          ELSE
            FOR j IN v_off + 1 .. v_off + v_n LOOP
              v_keep[j] := true;
              v_rev[j] := v_cur + (j - v_off);
            END LOOP;
            IF v_n > 0 THEN
              v_revs := jsonb_set(v_revs, ARRAY[v_stream], to_jsonb(v_cur + v_n));
              v_w_index := v_w_index || i; v_w_last := v_w_last || p_ids[v_off + v_n]; v_w_rev := v_w_rev || (v_cur + v_n);
            ELSE
              append_index := i; outcome := 'idempotent'; revision := v_cur;
              last_position := NULL; last_txid := NULL; event_id := NULL;
              RETURN NEXT;
            END IF;
          END IF;
          v_off := v_off + v_n;
        END LOOP;

        IF p_atomic AND v_fail IS NOT NULL THEN
          RAISE EXCEPTION 'postlog_atomic_append_failed' USING ERRCODE = 'P0001', DETAIL = v_fail::text;
        END IF;
        IF coalesce(array_length(v_w_index, 1), 0) > 0 THEN
          WITH ins AS (
            INSERT INTO events (event_id, stream_id, revision, type, schema_version, data, metadata)
            SELECT u.id, u.s, u.r, u.t, u.v, u.d, u.m
              FROM unnest(p_ids, p_event_streams, v_rev, p_types, p_versions, p_data, p_meta, v_keep) AS u(id, s, r, t, v, d, m, k)
             WHERE u.k
            RETURNING events.event_id, events.position
          )
          SELECT jsonb_object_agg(ins.event_id::text, ins.position) INTO v_pos FROM ins;
          UPDATE streams st SET revision = (v_revs ->> st.stream_id)::bigint, updated_at = now()
           WHERE st.stream_id = ANY(p_streams) AND st.revision <> (v_revs ->> st.stream_id)::bigint;
          PERFORM pg_notify('postlog_events', '');
          FOR i IN 1 .. array_length(v_w_index, 1) LOOP
            append_index := v_w_index[i]; outcome := 'written'; revision := v_w_rev[i];
            last_position := (v_pos ->> (v_w_last[i]::text))::bigint; last_txid := pg_current_xact_id()::text; event_id := NULL;
            RETURN NEXT;
          END LOOP;
        END IF;
        -- stream rows created only to be locked, by appends that did not write, go again
        DELETE FROM streams st WHERE st.stream_id = ANY(p_streams) AND st.revision = -1;
      END
      $fn$;
    `,
  },
  {
    version: 2,
    name: 'tenancy, content store, send bookkeeping',
    sql: `
      CREATE TABLE organizations (
        id          uuid PRIMARY KEY,
        name        text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE servers (
        id                  uuid PRIMARY KEY,
        organization_id     uuid NOT NULL REFERENCES organizations (id),
        name                text NOT NULL,
        mode                text NOT NULL CHECK (mode IN ('live', 'development')),
        send_limit_per_hour integer CHECK (send_limit_per_hour > 0),
        retention_days      integer NOT NULL DEFAULT 30 CHECK (retention_days > 0),
        suspended           boolean NOT NULL DEFAULT false,
        suspended_reason    text,
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX servers_organization ON servers (organization_id);

      CREATE TABLE domains (
        id                     uuid PRIMARY KEY,
        server_id              uuid NOT NULL REFERENCES servers (id),
        name                   text NOT NULL CHECK (name = lower(name)),
        verification_token     text NOT NULL,
        verified_at            timestamptz,
        return_path_subdomain  text NOT NULL,
        created_at             timestamptz NOT NULL DEFAULT now(),
        UNIQUE (server_id, name)
      );

      CREATE TABLE dkim_keys (
        id               uuid PRIMARY KEY,
        domain_id        uuid NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
        selector         text NOT NULL,
        algorithm        text NOT NULL CHECK (algorithm IN ('rsa-2048', 'ed25519')),
        private_key_pem  text NOT NULL,
        public_key_b64   text NOT NULL,
        -- active keys sign; a retired key stays published until the operator removes its record
        active           boolean NOT NULL DEFAULT true,
        created_at       timestamptz NOT NULL DEFAULT now(),
        retired_at       timestamptz,
        UNIQUE (domain_id, selector)
      );

      CREATE TABLE credentials (
        id            uuid PRIMARY KEY,
        server_id     uuid NOT NULL REFERENCES servers (id),
        kind          text NOT NULL CHECK (kind IN ('api', 'smtp')),
        name          text NOT NULL,
        -- smtp: the username; api: the first characters of the key, to tell keys apart
        identifier    text NOT NULL,
        -- SHA-256 of the secret: secrets are generated by Postlog with >= 144 bits of entropy
        secret_sha256 text NOT NULL UNIQUE,
        created_at    timestamptz NOT NULL DEFAULT now(),
        last_used_at  timestamptz,
        revoked_at    timestamptz
      );
      CREATE UNIQUE INDEX credentials_smtp_username ON credentials (identifier) WHERE kind = 'smtp';

      CREATE TABLE admin_tokens (
        id              uuid PRIMARY KEY,
        -- NULL: a global admin, for every organization
        organization_id uuid REFERENCES organizations (id),
        name            text NOT NULL,
        token_prefix    text NOT NULL,
        token_sha256    text NOT NULL UNIQUE,
        created_at      timestamptz NOT NULL DEFAULT now(),
        revoked_at      timestamptz
      );

      -- who changed which configuration, when, from what to what
      CREATE TABLE config_audit (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at              timestamptz NOT NULL DEFAULT now(),
        actor           text NOT NULL,
        action          text NOT NULL,
        entity_type     text NOT NULL,
        entity_id       text NOT NULL,
        organization_id uuid,
        server_id       uuid,
        before          jsonb,
        after           jsonb
      );
      CREATE INDEX config_audit_org ON config_audit (organization_id, id);

      -- raw MIME, content-addressed: events reference it by sha256
      CREATE TABLE contents (
        sha256      text PRIMARY KEY,
        body        bytea NOT NULL,
        size        integer NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );

      -- Content is written just before the events that reference it, and a request is only
      -- answered after those events commit synchronously. WAL is flushed in order, so that flush
      -- covers this insert too: it can commit asynchronously and save a disk flush per request.
      CREATE FUNCTION postlog_put_contents(p_sha256 text[], p_body bytea[]) RETURNS void
      LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM set_config('synchronous_commit', 'off', true);
        INSERT INTO contents (sha256, body, size)
          SELECT h, b, octet_length(b) FROM unnest(p_sha256, p_body) AS u(h, b)
          ON CONFLICT (sha256) DO NOTHING;
      END
      $fn$;

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
    `,
  },
  {
    version: 3,
    name: 'projections and the delivery queue',
    sql: `
      CREATE TABLE projection_checkpoints (
        name        text PRIMARY KEY,
        version     integer NOT NULL,
        checkpoint  text NOT NULL,
        position    bigint,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        last_error  text,
        error_at    timestamptz
      );

      -- The delivery queue: a projection of the log. Rows are leased by MTA workers.
      CREATE TABLE delivery_queue (
        message_id       bigint PRIMARY KEY,
        server_id        uuid NOT NULL,
        mail_from        text NOT NULL,
        rcpt_to          text NOT NULL,
        recipient_domain text NOT NULL,
        content_hash     text NOT NULL,
        token            text NOT NULL,
        -- NULL while held (or accepted and not yet queued): not deliverable
        due_at           timestamptz,
        attempts         integer NOT NULL DEFAULT 0,
        lease_owner      text,
        lease_until      timestamptz,
        accepted_at      timestamptz NOT NULL
      );
      CREATE INDEX delivery_queue_due ON delivery_queue (due_at) WHERE due_at IS NOT NULL;
      CREATE INDEX delivery_queue_domain ON delivery_queue (recipient_domain);
    `,
  },
  {
    version: 4,
    name: 'sending IP pools per server',
    sql: `
      -- the name of an IP pool from the configuration (ipPools); NULL: the default route
      ALTER TABLE servers ADD COLUMN ip_pool text;
    `,
  },
  {
    version: 5,
    name: 'read models: messages, deliveries, daily stats',
    sql: `
      CREATE TABLE rm_messages (
        message_id       bigint PRIMARY KEY,
        server_id        uuid NOT NULL,
        batch_id         text NOT NULL,
        rfc_message_id   text NOT NULL,
        mail_from        text NOT NULL,
        rcpt_to          text NOT NULL,
        recipient_domain text NOT NULL,
        subject          text NOT NULL,
        tag              text,
        source           text NOT NULL,
        size             integer NOT NULL,
        status           text NOT NULL,
        held_reason      text,
        attempts         integer NOT NULL DEFAULT 0,
        last_reply       text,
        bounce_classification text,
        opens            integer NOT NULL DEFAULT 0,
        clicks           integer NOT NULL DEFAULT 0,
        accepted_at      timestamptz NOT NULL,
        last_event_at    timestamptz NOT NULL,
        delivered_at     timestamptz
      );
      CREATE INDEX rm_messages_server_time ON rm_messages (server_id, accepted_at DESC, message_id DESC);
      CREATE INDEX rm_messages_server_status ON rm_messages (server_id, status, accepted_at DESC);
      CREATE INDEX rm_messages_server_rcpt ON rm_messages (server_id, rcpt_to);
      CREATE INDEX rm_messages_server_tag ON rm_messages (server_id, tag);

      -- one row per delivery attempt
      CREATE TABLE rm_deliveries (
        message_id    bigint NOT NULL,
        attempt       integer NOT NULL,
        outcome       text NOT NULL,
        at            timestamptz NOT NULL,
        mx_host       text,
        remote_ip     text,
        local_ip      text,
        tls_protocol  text,
        tls_cipher    text,
        smtp_code     integer,
        enhanced_code text,
        smtp_text     text,
        duration_ms   integer NOT NULL,
        PRIMARY KEY (message_id, attempt)
      );

      CREATE TABLE rm_daily_stats (
        server_id      uuid NOT NULL,
        day            date NOT NULL,
        accepted       integer NOT NULL DEFAULT 0,
        held           integer NOT NULL DEFAULT 0,
        delivered      integer NOT NULL DEFAULT 0,
        deferred       integer NOT NULL DEFAULT 0,
        bounced        integer NOT NULL DEFAULT 0,
        failed         integer NOT NULL DEFAULT 0,
        cancelled      integer NOT NULL DEFAULT 0,
        opened_total   integer NOT NULL DEFAULT 0,
        opened_unique  integer NOT NULL DEFAULT 0,
        clicked_total  integer NOT NULL DEFAULT 0,
        clicked_unique integer NOT NULL DEFAULT 0,
        complained     integer NOT NULL DEFAULT 0,
        unsubscribed   integer NOT NULL DEFAULT 0,
        PRIMARY KEY (server_id, day)
      );
    `,
  },
  {
    version: 6,
    name: 'retention: content references in the messages read model',
    sql: `
      ALTER TABLE rm_messages ADD COLUMN content_hash text NOT NULL DEFAULT '';
      ALTER TABLE rm_messages ADD COLUMN content_expired boolean NOT NULL DEFAULT false;
      CREATE INDEX rm_messages_content ON rm_messages (content_hash) WHERE NOT content_expired;
      CREATE INDEX rm_messages_retention ON rm_messages (server_id, accepted_at) WHERE NOT content_expired;
    `,
  },
  {
    version: 7,
    name: 'tracking settings per server',
    sql: `
      -- HMAC keys of tracking tokens: the current one signs, the previous one still verifies (rotation)
      ALTER TABLE servers ADD COLUMN tracking_secret text NOT NULL DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
      ALTER TABLE servers ADD COLUMN tracking_secret_previous text;
      ALTER TABLE servers ADD COLUMN track_opens boolean NOT NULL DEFAULT true;
      ALTER TABLE servers ADD COLUMN track_clicks boolean NOT NULL DEFAULT true;
      -- e.g. https://click.example.com (a CNAME to Postlog); NULL: Postlog's own address
      ALTER TABLE servers ADD COLUMN tracking_base_url text;
      ALTER TABLE servers ADD COLUMN tracking_excluded_domains text[] NOT NULL DEFAULT '{}';
      -- add one-click unsubscribe (RFC 8058) to every message unless the request says otherwise
      ALTER TABLE servers ADD COLUMN list_unsubscribe boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 8,
    name: 'inbound routes to HTTP endpoints',
    sql: `
      CREATE TABLE routes (
        id           uuid PRIMARY KEY,
        server_id    uuid NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
        -- "support@example.com", or "*@example.com" for every address of the domain
        address      text NOT NULL CHECK (address = lower(address)),
        endpoint_url text NOT NULL,
        format       text NOT NULL CHECK (format IN ('json', 'raw')),
        created_at   timestamptz NOT NULL DEFAULT now(),
        UNIQUE (address)
      );

      -- one row per message handed to an endpoint: the delivery log, and the retry queue
      CREATE TABLE route_deliveries (
        id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        route_id         uuid NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
        content_sha256   text NOT NULL,
        mail_from        text NOT NULL,
        rcpt_to          text NOT NULL,
        received_at      timestamptz NOT NULL DEFAULT now(),
        status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts         integer NOT NULL DEFAULT 0,
        next_attempt_at  timestamptz NOT NULL DEFAULT now(),
        last_status_code integer,
        last_response    text,
        delivered_at     timestamptz
      );
      CREATE INDEX route_deliveries_due ON route_deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX route_deliveries_route ON route_deliveries (route_id, id DESC);
    `,
  },
  {
    version: 9,
    name: 'webhooks: endpoints, the outbox with its delivery log, and the signing key',
    sql: `
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
    `,
  },
  {
    // 10, not 9: main's webhooks branch took 9 (versions need not be contiguous, only unique)
    version: 10,
    name: 'analytics: one row per reported event, and the message dimensions the projection keeps',
    sql: `
      -- the embedded analytics store (ClickHouse replaces it when configured): one row per event the
      -- reports count, with the message's dimensions copied onto it (projections/analytics/analytics-row.ts)
      CREATE TABLE analytics_events (
        event_id              uuid PRIMARY KEY,
        -- the log's event type (MessageAccepted, MessageOpened, …)
        event_type            text NOT NULL,
        -- when it happened (the event's "at")
        event_time            timestamptz NOT NULL,
        server_id             uuid NOT NULL,
        message_id            bigint NOT NULL,
        recipient_domain      text NOT NULL,
        mailbox_provider      text NOT NULL,
        sending_domain        text NOT NULL,
        tag                   text NOT NULL,
        ip                    text NOT NULL,
        bounce_classification text NOT NULL,
        url                   text NOT NULL,
        machine               boolean NOT NULL
      );
      -- every report is scoped by server and range
      CREATE INDEX analytics_events_server_time ON analytics_events (server_id, event_time) INCLUDE (event_type, message_id, machine);
      CREATE INDEX analytics_events_message ON analytics_events (message_id);

      -- the dimensions of each message as of its latest event: what its next events are reported under
      CREATE TABLE analytics_messages (
        message_id       bigint PRIMARY KEY,
        server_id        uuid NOT NULL,
        sending_domain   text NOT NULL,
        recipient_domain text NOT NULL,
        tag              text NOT NULL,
        mailbox_provider text NOT NULL,
        ip               text NOT NULL,
        accepted_at      timestamptz NOT NULL
      );
    `,
  },
  {
    version: 11,
    name: 'one generic plan for the statements inside postlog_append_batch',
    sql: `
      -- Without this, PostgreSQL plans the function's inner statements afresh on most calls
      -- (custom plans for their array parameters): about 100 - 350 µs of planning per group commit,
      -- which dominates small batches (SMTP submission commits ~3 appends at a time). Measured:
      -- PostgreSQL CPU per message -11 % for submission, -6 to -14 % for the send API (A/B runs).
      ALTER FUNCTION postlog_append_batch(text[], bigint[], int[], uuid[], text[], text[], int[], jsonb[], jsonb[], boolean)
        SET plan_cache_mode = force_generic_plan;
    `,
  },
  {
    version: 12,
    name: 'group commit: a short way for batches that only create streams',
    sql: `
      -- Most group commits only create streams: every accepted message is a new stream appended
      -- with no_stream and fresh event ids. For those, the general function creates each stream
      -- row at revision -1, locks it, works out revisions in a PL/pgSQL loop, then updates the row
      -- again. Here such a
      -- batch creates its stream rows at their final revisions in one statement and writes the
      -- events in another: the primary key on streams is the "must not exist" check, and a row a
      -- concurrent transaction is creating makes this one wait for it, as the lock does. Anything
      -- else (an expected revision, an event id seen before, a stream that exists, one stream
      -- twice) goes the general way, which keeps every outcome as it was. Measured on 4 appends of
      -- 2 events: PostgreSQL CPU per append about 155 -> 125 µs.
      ALTER FUNCTION postlog_append_batch(text[], bigint[], int[], uuid[], text[], text[], int[], jsonb[], jsonb[], boolean)
        RENAME TO postlog_append_batch_checked;

      CREATE FUNCTION postlog_append_batch(
        p_streams text[], p_expected bigint[], p_counts int[],
        p_ids uuid[], p_event_streams text[], p_types text[], p_versions int[], p_data jsonb[], p_meta jsonb[],
        p_atomic boolean DEFAULT false
      ) RETURNS TABLE (append_index int, outcome text, revision bigint, last_position bigint, last_txid text, event_id uuid)
      -- Its plans are made once per connection (generic), often while the log is still nearly empty,
      -- where a sequential scan looks cheapest for "does any of these event ids exist": that plan
      -- would then scan the whole log on every commit (measured: 5.6 ms per call twenty seconds
      -- into a benchmark). Every table access here is by key, so sequential scans are ruled out.
      LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $fn$
      #variable_conflict use_column
      DECLARE
        n_streams int := coalesce(array_length(p_streams, 1), 0);
        v_created text[];
      BEGIN
        IF n_streams > 0 AND -1 = ALL(p_expected) AND 0 < ALL(p_counts) THEN
          -- in a fixed order, as the general function creates them: racing creators cannot deadlock
          WITH created AS (
            INSERT INTO streams (stream_id, revision)
            SELECT u.s, u.c - 1 FROM unnest(p_streams, p_counts) AS u(s, c) ORDER BY u.s
            ON CONFLICT DO NOTHING RETURNING streams.stream_id
          )
          SELECT coalesce(array_agg(created.stream_id), '{}') INTO v_created FROM created;
          -- event ids are looked up only now, with a snapshot taken after any wait above: a writer
          -- we waited for may have committed one of them (on another stream), as the general function
          -- would see after its locks. (A retried batch has its streams already: it goes the general way.)
          IF array_length(v_created, 1) = n_streams AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = ANY(p_ids)) THEN
            PERFORM pg_notify('postlog_events', '');
            RETURN QUERY
              WITH ins AS (
                INSERT INTO events (event_id, stream_id, revision, type, schema_version, data, metadata)
                SELECT u.id, u.s, row_number() OVER (PARTITION BY u.s ORDER BY u.o) - 1, u.t, u.v, u.d, u.m
                  FROM unnest(p_ids, p_event_streams, p_types, p_versions, p_data, p_meta) WITH ORDINALITY AS u(id, s, t, v, d, m, o)
                 ORDER BY u.o
                RETURNING events.stream_id, events.position
              )
              SELECT a.i::int, 'written'::text, (a.c - 1)::bigint, l.last_position, pg_current_xact_id()::text, NULL::uuid
                FROM unnest(p_streams, p_counts) WITH ORDINALITY AS a(s, c, i)
                JOIN (SELECT ins.stream_id, max(ins.position) AS last_position FROM ins GROUP BY ins.stream_id) l ON l.stream_id = a.s
               ORDER BY a.i;
            RETURN;
          END IF;
          -- some stream exists (or is named twice), or an event id is taken: the rows created
          -- here go back to "new" and the general function decides every append
          UPDATE streams st SET revision = -1 WHERE st.stream_id = ANY(v_created);
        END IF;
        RETURN QUERY SELECT * FROM postlog_append_batch_checked(p_streams, p_expected, p_counts, p_ids, p_event_streams, p_types, p_versions, p_data, p_meta, p_atomic);
      END
      $fn$;
    `,
  },
  {
    version: 13,
    name: 'delivery queue: leased rows out of the way of the next lease',
    sql: `
      -- A lease took the due rows in due_at order and skipped the leased ones by reading each
      -- (lease_until is not in the index): with a worker's 500 messages in flight, every lease
      -- read 500 rows to skip them (~0.5 ms, most of the lease's cost; more with more workers).
      -- Rows free to lease now have an index of their own; leased rows have one by lease_until,
      -- so that a lease that ran out (its worker died) is found without a scan. Measured, the
      -- lease's cost no longer grows with the rows in flight (test/integration/delivery-queue.test.ts).
      CREATE INDEX delivery_queue_ready ON delivery_queue (due_at) WHERE due_at IS NOT NULL AND lease_owner IS NULL;
      CREATE INDEX delivery_queue_leases ON delivery_queue (lease_until) WHERE lease_owner IS NOT NULL;

      -- The lease, as a function so that it can insist on reading both indexes in their order:
      -- the queue churns faster than autovacuum analyzes it, and with statistics that said only a
      -- few rows were free the planner sorted all of them instead (8,400 rows, 9 ms per lease).
      -- Free rows may carry a "not before" in lease_until (a release with a delay); rows whose
      -- lease ran out (their worker died) are due again. Oldest due first, up to p_limit.
      -- (The columns are listed: a function returning the table's row type would tie it to this
      -- copy of the table, which a rebuild of the projection swaps out.)
      CREATE FUNCTION postlog_lease_deliveries(p_owner text, p_seconds int, p_limit int)
      RETURNS TABLE (message_id bigint, server_id uuid, mail_from text, rcpt_to text, recipient_domain text,
                     content_hash text, token text, attempts int, accepted_at timestamptz)
      LANGUAGE plpgsql
      SET enable_seqscan = off
      SET enable_bitmapscan = off
      AS $fn$
      #variable_conflict use_column
      BEGIN
        RETURN QUERY
          WITH expired AS (
            SELECT message_id, due_at FROM delivery_queue
             WHERE lease_owner IS NOT NULL AND lease_until < now() AND due_at <= now()
             ORDER BY lease_until LIMIT p_limit
             FOR UPDATE SKIP LOCKED
          ), free AS (
            SELECT message_id, due_at FROM delivery_queue
             WHERE lease_owner IS NULL AND due_at <= now() AND (lease_until IS NULL OR lease_until < now())
             ORDER BY due_at LIMIT p_limit
             FOR UPDATE SKIP LOCKED
          ), leased AS (
            UPDATE delivery_queue q SET lease_owner = p_owner, lease_until = now() + make_interval(secs => p_seconds)
             WHERE q.message_id IN (
               SELECT due.message_id FROM (SELECT * FROM expired UNION ALL SELECT * FROM free) due ORDER BY due.due_at LIMIT p_limit)
            RETURNING q.*
          )
          SELECT l.message_id, l.server_id, l.mail_from, l.rcpt_to, l.recipient_domain, l.content_hash, l.token, l.attempts, l.accepted_at
            FROM leased l ORDER BY l.due_at, l.message_id;
      END
      $fn$;
      -- the old index, under its own name or (after a rebuild of the projection swapped in a copy
      -- of the table) under a generated one
      DO $drop$
      DECLARE v_index text;
      BEGIN
        FOR v_index IN
          SELECT quote_ident(schemaname) || '.' || quote_ident(indexname) FROM pg_indexes
           WHERE tablename = 'delivery_queue' AND schemaname = current_schema()
             AND indexdef LIKE '%(due_at) WHERE (due_at IS NOT NULL)'
        LOOP
          EXECUTE 'DROP INDEX ' || v_index;
        END LOOP;
      END
      $drop$;
    `,
  },
  {
    version: 14,
    name: 'delivery queue: leases after review (due order, no extra locks, delayed releases)',
    sql: `
      -- Migration 13 as a reviewer found it: rows released with a delay (a suspended server's
      -- messages come back every 300 s) stayed at the head of the index of free rows and every
      -- lease read past them; rows whose lease ran out were taken in lease order, not due order;
      -- the two halves of the lease each locked up to the limit, so a concurrent lease could find
      -- nothing while rows were free. Now a due row is in one of two indexes: free (no lease_until)
      -- or waiting (a lease, or a release's "not before", in lease_until); a lease takes waiting
      -- rows whose time has passed first, then free ones for what is left, each oldest due first.
      -- A lease always has its deadline (a row with an owner and no lease_until could never be
      -- leased again).
      UPDATE delivery_queue SET lease_owner = NULL WHERE lease_owner IS NOT NULL AND lease_until IS NULL;
      ALTER TABLE delivery_queue ADD CONSTRAINT delivery_queue_lease_has_deadline CHECK (lease_owner IS NULL OR lease_until IS NOT NULL);
      CREATE INDEX delivery_queue_free ON delivery_queue (due_at) WHERE due_at IS NOT NULL AND lease_until IS NULL;
      CREATE INDEX delivery_queue_waiting ON delivery_queue (lease_until) WHERE due_at IS NOT NULL AND lease_until IS NOT NULL;
      -- migration 13's indexes, under their names or (after a rebuild of the projection swapped in
      -- a copy of the table) generated ones
      DO $drop$
      DECLARE v_index text;
      BEGIN
        FOR v_index IN
          SELECT quote_ident(schemaname) || '.' || quote_ident(indexname) FROM pg_indexes
           WHERE tablename = 'delivery_queue' AND schemaname = current_schema()
             AND (indexdef LIKE '%(due_at) WHERE ((due_at IS NOT NULL) AND (lease_owner IS NULL))'
                  OR indexdef LIKE '%(lease_until) WHERE (lease_owner IS NOT NULL)')
        LOOP
          EXECUTE 'DROP INDEX ' || v_index;
        END LOOP;
      END
      $drop$;

      DROP FUNCTION postlog_lease_deliveries(text, int, int);
      -- (seqscan and bitmapscan off: the queue churns faster than autovacuum analyzes it, and
      -- stale statistics made the planner sort every due row instead of reading an index in order)
      CREATE FUNCTION postlog_lease_deliveries(p_owner text, p_seconds int, p_limit int)
      RETURNS TABLE (message_id bigint, server_id uuid, mail_from text, rcpt_to text, recipient_domain text,
                     content_hash text, token text, attempts int, accepted_at timestamptz)
      LANGUAGE plpgsql
      SET enable_seqscan = off
      SET enable_bitmapscan = off
      AS $fn$
      #variable_conflict use_column
      DECLARE
        v_taken int;
      BEGIN
        -- waiting rows whose time has come: a lease that ran out (its worker died) or a release's delay
        RETURN QUERY
          WITH picked AS (
            SELECT d.message_id FROM delivery_queue d
             WHERE d.due_at IS NOT NULL AND d.lease_until IS NOT NULL AND d.lease_until < now() AND d.due_at <= now()
             ORDER BY d.due_at LIMIT p_limit
             FOR UPDATE SKIP LOCKED
          ), leased AS (
            UPDATE delivery_queue q SET lease_owner = p_owner, lease_until = now() + make_interval(secs => p_seconds)
              FROM picked WHERE q.message_id = picked.message_id
            RETURNING q.*
          )
          SELECT l.message_id, l.server_id, l.mail_from, l.rcpt_to, l.recipient_domain, l.content_hash, l.token, l.attempts, l.accepted_at
            FROM leased l ORDER BY l.due_at, l.message_id;
        GET DIAGNOSTICS v_taken = ROW_COUNT;
        IF v_taken >= p_limit THEN
          RETURN;
        END IF;
        -- then free rows, for what is left
        RETURN QUERY
          WITH picked AS (
            SELECT d.message_id FROM delivery_queue d
             WHERE d.due_at <= now() AND d.lease_until IS NULL
             ORDER BY d.due_at LIMIT p_limit - v_taken
             FOR UPDATE SKIP LOCKED
          ), leased AS (
            UPDATE delivery_queue q SET lease_owner = p_owner, lease_until = now() + make_interval(secs => p_seconds)
              FROM picked WHERE q.message_id = picked.message_id
            RETURNING q.*
          )
          SELECT l.message_id, l.server_id, l.mail_from, l.rcpt_to, l.recipient_domain, l.content_hash, l.token, l.attempts, l.accepted_at
            FROM leased l ORDER BY l.due_at, l.message_id;
      END
      $fn$;
      -- (An MTA process from before migration 13, still running during a rolling upgrade, leases
      -- with its own statement, which neither index serves: a scan of the queue per lease until it
      -- is replaced. Upgrade the mta processes together, or expect that for a few minutes.)
    `,
  },
  {
    version: 15,
    name: 'contents: bodies stored uncompressed, up to 8 KB in the row',
    sql: `
      -- By default PostgreSQL tries pglz on every value over 2 KB. Mail bodies are mostly base64
      -- attachments and already-compressed images, which pglz cannot shrink: for a realistic
      -- 100 KB message it spent about 3 ms of CPU per insert (four times the insert itself) and
      -- then stored the body as it was. Uncompressed (EXTERNAL) storage skips that; bodies of up
      -- to 8 KB stay in the row itself instead of the TOAST table. Rows written before keep
      -- their form; both read the same.
      ALTER TABLE contents ALTER COLUMN body SET STORAGE EXTERNAL;
      ALTER TABLE contents SET (toast_tuple_target = 8160);
    `,
  },
  {
    version: 16,
    name: 'retention: bounded work per run (content release candidates, orphan sweep in created_at order)',
    sql: `
      -- Retention used to delete unneeded contents with one statement over the whole table, every
      -- 15 minutes, in a transaction that held back every subscriber of the log while it ran. Now
      -- a body is looked at only when it may have become unneeded: when a message using it expires
      -- (a candidate, below), and once about a day after it was written (an orphan: content whose
      -- message was never appended). Both in short batches.
      CREATE TABLE content_release_candidates (
        sha256      text PRIMARY KEY,
        check_after timestamptz NOT NULL
      );
      CREATE INDEX content_release_candidates_due ON content_release_candidates (check_after);
      -- how far the orphan sweep has come, in (created_at, sha256) order
      CREATE TABLE retention_progress (
        name       text PRIMARY KEY,
        created_at timestamptz NOT NULL,
        sha256     text NOT NULL
      );

      -- created_at now means "last written": writing a body that is already stored (the same
      -- bytes submitted again) moves it forward, so retention never deletes a body a message
      -- accepted a moment ago relies on while the read models have not caught up with it.
      -- (Moved at most once an hour: a duplicate in a busy stream does not rewrite the row each time.)
      -- Such an update locks the row: rows go in hash order, so two batches sharing bodies lock
      -- them in the same order instead of deadlocking.
      CREATE OR REPLACE FUNCTION postlog_put_contents(p_sha256 text[], p_body bytea[]) RETURNS void
      LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM set_config('synchronous_commit', 'off', true);
        INSERT INTO contents AS c (sha256, body, size)
          SELECT h, b, octet_length(b) FROM unnest(p_sha256, p_body) AS u(h, b) ORDER BY h
          ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at
            WHERE c.created_at < excluded.created_at - interval '1 hour';
      END
      $fn$;
    `,
  },
  {
    version: 17,
    name: 'retention: contents in created_at order, queue rows and pending route deliveries by content (built concurrently)',
    concurrentIndexes: [
      { name: 'contents_created', table: 'contents', definition: '(created_at, sha256)' },
      // "does a queued message still need this body": without it each retention batch read the
      // whole queue (a hash join over 300,000 rows: 130 ms per batch of 1,000 bodies)
      { name: 'delivery_queue_content', table: 'delivery_queue', definition: '(content_hash)' },
      // inbound mail an HTTP route has still to take keeps its body
      {
        name: 'route_deliveries_pending_content',
        table: 'route_deliveries',
        definition: "(content_sha256) WHERE status = 'pending'",
      },
    ],
  },
];
