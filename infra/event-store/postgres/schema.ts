/**
 * The PostgreSQL event store's schema: the log's tables and the functions that append to it. The
 * migrations (infra/postgres/migrations-list.ts) run these texts; the SQL that reads and writes the
 * log is next to them in this folder.
 *
 * Each function has one current definition here, written CREATE OR REPLACE. To change one, change
 * it here and add a migration that runs it. An older migration that runs it too must still work on
 * a database at that older version (same signature, nothing it uses is newer); where it would not,
 * that migration gets the text it ran as a historical export. The SQL texts keep their indentation:
 * a function's body is stored as written, and test/integration/migrations-split.test.ts compares
 * the definitions with those of databases migrated before this file existed.
 */

/** The log: a row per stream with its revision, a row per event (migration 1). */
export const eventLogTables = `
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
`;

/**
 * What a commit notification says since migration 46: the kinds of the streams the batch appended
 * to, each a stream id up to its first "-" ("message-", "blocklist-"), comma-separated, so that a
 * subscription to other streams stays asleep (infra/event-store/postgres/notifications.ts). An
 * empty payload (before migration 46, or more kinds than a payload should carry) wakes everyone.
 */
const STREAM_KINDS_PAYLOAD = `(SELECT CASE WHEN length(kinds.k) > 4000 THEN '' ELSE coalesce(kinds.k, '') END
            FROM (SELECT string_agg(DISTINCT substring(st FROM '^[^-]*-?'), ',') AS k FROM unnest(p_streams) AS st) kinds)`;

/**
 * The general append, under a given name and with given settings: every append with its own
 * expected-revision check. Migration 1 created it as postlog_append_batch; since migration 12 it is
 * postlog_append_batch_checked, which the short way below calls for every batch it cannot take.
 */
const generalAppend = (name: string, settings: string, notifyPayload = "''") => `
      -- Group commit in one round trip: many appends, each with its own optimistic-concurrency
      -- check, written by one statement (one transaction, one WAL flush). An append whose check
      -- fails writes nothing and gets its own outcome; the others commit.
      -- p_expected: -1 no_stream, -2 any, -3 stream_exists, n >= 0 exact revision.
      -- Outcomes: written | idempotent | wrong_expected_revision | duplicate_event_id.
      CREATE OR REPLACE FUNCTION ${name}(
        p_streams text[], p_expected bigint[], p_counts int[],
        p_ids uuid[], p_event_streams text[], p_types text[], p_versions int[], p_data jsonb[], p_meta jsonb[],
        -- atomic: all appends commit or none does (a multi-recipient send)
        p_atomic boolean DEFAULT false
      ) RETURNS TABLE (append_index int, outcome text, revision bigint, last_position bigint, last_txid text, event_id uuid)
      LANGUAGE plpgsql${settings} AS $fn$
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
          PERFORM pg_notify('postlog_events', ${notifyPayload});
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
`;

/** Historical: the general append as migration 1 created it, under the name the short way took in migration 12. */
export const appendBatchOfMigration1 = generalAppend('postlog_append_batch', '');

/** Historical: migration 11 gave the general append, still under its first name, one generic plan. */
export const appendBatchGenericPlanOfMigration11 = `
      -- Without this, PostgreSQL plans the function's inner statements afresh on most calls
      -- (custom plans for their array parameters): about 100 - 350 µs of planning per group commit,
      -- which dominates small batches (SMTP submission commits ~3 appends at a time). Measured:
      -- PostgreSQL CPU per message -11 % for submission, -6 to -14 % for the send API (A/B runs).
      ALTER FUNCTION postlog_append_batch(text[], bigint[], int[], uuid[], text[], text[], int[], jsonb[], jsonb[], boolean)
        SET plan_cache_mode = force_generic_plan;
`;

/**
 * Migration 12: the name postlog_append_batch goes to the short way; the general append is created
 * again under its new name.
 */
export const appendBatchNameFreed = `
      DROP FUNCTION postlog_append_batch(text[], bigint[], int[], uuid[], text[], text[], int[], jsonb[], jsonb[], boolean);
`;

/**
 * The general append (current). Without a generic plan, PostgreSQL plans the function's inner
 * statements afresh on most calls (custom plans for their array parameters): about 100 - 350 µs of
 * planning per group commit, which dominates small batches (SMTP submission commits ~3 appends at
 * a time). Measured: PostgreSQL CPU per message -11 % for submission, -6 to -14 % for the send API.
 */
export const appendBatchCheckedFunction = generalAppend(
  'postlog_append_batch_checked',
  ' SET plan_cache_mode = force_generic_plan',
  STREAM_KINDS_PAYLOAD,
);

/** Historical: the general append as migration 12 created it, with an empty notification. */
export const appendBatchCheckedFunctionOfMigration12 = generalAppend(
  'postlog_append_batch_checked',
  ' SET plan_cache_mode = force_generic_plan',
);

/** The short way for batches that only create streams, notifying with the given payload. */
const shortAppend = (notifyPayload: string) => `
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
      CREATE OR REPLACE FUNCTION postlog_append_batch(
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
            PERFORM pg_notify('postlog_events', ${notifyPayload});
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
`;

/** The append every group commit calls (current): the short way for batches that only create streams. */
export const appendBatchFunction = shortAppend(STREAM_KINDS_PAYLOAD);

/** Historical: the short way as migration 12 created it, with an empty notification. */
export const appendBatchFunctionOfMigration12 = shortAppend("''");
