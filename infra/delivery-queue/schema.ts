/**
 * The delivery queue's table and its lease function. The queue is a projection of the log
 * (projections/delivery-queue/) that MTA workers lease rows from; every statement on it is in this
 * folder.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 *
 * The lease function has one current definition (CREATE OR REPLACE), which migrations 13 and 14
 * both run: it uses nothing newer than migration 3's table. A change to it comes with a migration
 * that runs it; should the new text not work on a database at version 12, migrations 13 and 14
 * keep today's text as a historical export.
 */
import type { ConcurrentIndex } from '../postgres/migration.js';

/** The table's name, for the projection that keeps it (rebuilds write a copy under another name). */
export const DELIVERY_QUEUE = 'delivery_queue';

/** Migration 3: the table. */
export const deliveryQueueTable = `
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
`;

/** Historical, migration 13: indexes of free and of leased rows (migration 14 replaced them). */
export const leaseIndexesOfMigration13 = `
      -- A lease took the due rows in due_at order and skipped the leased ones by reading each
      -- (lease_until is not in the index): with a worker's 500 messages in flight, every lease
      -- read 500 rows to skip them (~0.5 ms, most of the lease's cost; more with more workers).
      -- Rows free to lease now have an index of their own; leased rows have one by lease_until,
      -- so that a lease that ran out (its worker died) is found without a scan. Measured, the
      -- lease's cost no longer grows with the rows in flight (test/integration/delivery-queue.test.ts).
      CREATE INDEX delivery_queue_ready ON delivery_queue (due_at) WHERE due_at IS NOT NULL AND lease_owner IS NULL;
      CREATE INDEX delivery_queue_leases ON delivery_queue (lease_until) WHERE lease_owner IS NOT NULL;
`;

/** Migration 13: the first index of due rows goes. */
export const firstDueIndexDropped = `
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
`;

/**
 * Migration 14: a lease always has a deadline; due rows in one of two indexes, free or waiting (and
 * migration 13's indexes go); the lease function is created again. (An MTA process from before
 * migration 13, still running during a rolling upgrade, leases with its own statement, which
 * neither index serves: a scan of the queue per lease until it is replaced. Upgrade the mta
 * processes together, or expect that for a few minutes.)
 */
export const leaseIndexesSplit = `
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
`;

/**
 * Historical, migrations 13 and 14: the lease function before it returned the kept state
 * (migration 47). Up to p_limit due messages leased to p_owner for p_seconds: first
 * rows whose lease ran out or whose release delay passed, then free rows, each oldest due first and
 * read in its index's order, never the rows other leases hold. A function so that it can insist on
 * reading both indexes in their order: the queue churns faster than autovacuum analyzes it, and
 * with statistics that said only a few rows were free the planner sorted all of them instead (8,400
 * rows, 9 ms per lease). The columns are listed: a function returning the table's row type would
 * tie it to this copy of the table, which a rebuild of the projection swaps out.
 */
export const leaseFunctionOfMigration14 = `
      -- (seqscan and bitmapscan off: the queue churns faster than autovacuum analyzes it, and
      -- stale statistics made the planner sort every due row instead of reading an index in order)
      CREATE OR REPLACE FUNCTION postlog_lease_deliveries(p_owner text, p_seconds int, p_limit int)
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
`;

/**
 * Migration 47: the state of each queued message as the projection folded it from the log, and the
 * revision of its stream it folded to. At lease time the MTA compares the revision with the
 * stream's and uses the state when they agree, instead of reading the stream back (about a tenth
 * of PostgreSQL's work per delivered message). NULL: not kept (a row from before, a redelivery, or
 * a change since); the MTA reads the stream then. The lease function returns both (leaseFunction).
 */
export const keptStateColumns = `
      ALTER TABLE delivery_queue ADD COLUMN state jsonb, ADD COLUMN revision bigint;
      DROP FUNCTION postlog_lease_deliveries(text, int, int);
`;

/**
 * Up to p_limit due messages leased to p_owner for p_seconds (current; migration 47): first
 * rows whose lease ran out or whose release delay passed, then free rows, each oldest due first and
 * read in its index's order, never the rows other leases hold. A function so that it can insist on
 * reading both indexes in their order: the queue churns faster than autovacuum analyzes it, and
 * with statistics that said only a few rows were free the planner sorted all of them instead (8,400
 * rows, 9 ms per lease). The columns are listed: a function returning the table's row type would
 * tie it to this copy of the table, which a rebuild of the projection swaps out.
 */
export const leaseFunction = `
      -- (seqscan and bitmapscan off: the queue churns faster than autovacuum analyzes it, and
      -- stale statistics made the planner sort every due row instead of reading an index in order)
      CREATE OR REPLACE FUNCTION postlog_lease_deliveries(p_owner text, p_seconds int, p_limit int)
      RETURNS TABLE (message_id bigint, server_id uuid, mail_from text, rcpt_to text, recipient_domain text,
                     content_hash text, token text, attempts int, accepted_at timestamptz,
                     state jsonb, revision bigint)
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
          SELECT l.message_id, l.server_id, l.mail_from, l.rcpt_to, l.recipient_domain, l.content_hash, l.token, l.attempts, l.accepted_at,
                 l.state, l.revision
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
          SELECT l.message_id, l.server_id, l.mail_from, l.rcpt_to, l.recipient_domain, l.content_hash, l.token, l.attempts, l.accepted_at,
                 l.state, l.revision
            FROM leased l ORDER BY l.due_at, l.message_id;
      END
      $fn$;
`;

/**
 * Migration 17: "does a queued message still need this body", built concurrently. Without it each
 * retention batch read the whole queue (a hash join over 300,000 rows: 130 ms per batch of 1,000 bodies).
 */
export const queuedContentIndex: ConcurrentIndex = {
  name: 'delivery_queue_content',
  table: DELIVERY_QUEUE,
  definition: '(content_hash)',
};
