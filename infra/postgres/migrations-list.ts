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

      -- Group commit in one round trip: many appends, each with its own optimistic-concurrency
      -- check, written by one statement (one transaction, one WAL flush). An append whose check
      -- fails writes nothing and gets its own outcome; the others commit.
      -- p_expected: -1 no_stream, -2 any, -3 stream_exists, n >= 0 exact revision.
      -- Outcomes: written | idempotent | wrong_expected_revision | duplicate_event_id.
      CREATE FUNCTION postlog_append_batch(
        p_streams text[], p_expected bigint[], p_counts int[],
        p_ids uuid[], p_event_streams text[], p_types text[], p_versions int[], p_data jsonb[], p_meta jsonb[]
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
            RETURN NEXT;
          ELSIF (v_exp = -1 AND v_cur <> -1) OR (v_exp = -3 AND v_cur < 0) OR (v_exp >= 0 AND v_cur <> v_exp) THEN
            append_index := i; outcome := 'wrong_expected_revision'; revision := v_cur;
            last_position := NULL; last_txid := NULL; event_id := NULL;
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
];
