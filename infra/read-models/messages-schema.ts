import { dropIndexByDefinition } from '../postgres/drop-index-by-definition.js';
import type { ConcurrentIndex } from '../postgres/migration.js';

/**
 * The message read models (projections/read-models/message-read-models.ts writes them; the message
 * list API and retention read them). Every statement on them is in this folder: message-writes.ts,
 * message-list.ts, retention-queries.ts.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** The tables' names, for the projection that keeps them (a rebuild writes copies under other names). */
export const RM_MESSAGES = 'rm_messages';
export const RM_DELIVERIES = 'rm_deliveries';
export const RM_DAILY_STATS = 'rm_daily_stats';

/** Migration 5: messages, delivery attempts, daily stats. */
export const messageReadModelTables = `
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
`;

/** Migration 6: the content each message references, for retention. */
export const messageContentReferences = `
      ALTER TABLE rm_messages ADD COLUMN content_hash text NOT NULL DEFAULT '';
      ALTER TABLE rm_messages ADD COLUMN content_expired boolean NOT NULL DEFAULT false;
      CREATE INDEX rm_messages_content ON rm_messages (content_hash) WHERE NOT content_expired;
      CREATE INDEX rm_messages_retention ON rm_messages (server_id, accepted_at) WHERE NOT content_expired;
`;

/**
 * Migration 19: the message list's subject search (`q`, ILIKE '%…%') by trigrams, built
 * concurrently. Without it a search for something rare (an order number) read every row: 420 ms over
 * 1,000,000 messages (bench/dashboard.ts); with it 5 ms. Common words still go down the server's
 * time index and stop at a page (the planner chooses). It costs writes: an insert or non-HOT update
 * of a row adds its subject's trigrams (rm_messages updates are not HOT: status is indexed).
 */
export const messageSubjectSearchIndex: ConcurrentIndex = {
  name: 'rm_messages_subject_trgm',
  table: 'rm_messages',
  definition: 'USING gin (subject gin_trgm_ops)',
  extension: 'pg_trgm',
};

/**
 * Migration 20: a finer histogram of subjects for the planner. Whether a subject search walks the
 * server's time index until a page is full or reads the trigram index and sorts what it finds
 * depends on how common it thinks the text is; with the default 100 histogram entries a word in 2 %
 * of subjects was now and then taken for a rare one, and its search read 17,000 rows (230 ms instead
 * of 2). ANALYZE then samples 300,000 rows of the table instead of 30,000.
 */
export const subjectStatistics = `
      ALTER TABLE rm_messages ALTER COLUMN subject SET STATISTICS 1000;
`;

/**
 * Migration 21: incoming messages (routed mail) in the same list as outgoing ones, told apart by
 * direction, and the scanners' verdict on any message (NULL: not scanned).
 */
export const messageDirectionAndSpam = `
      ALTER TABLE rm_messages ADD COLUMN direction text NOT NULL DEFAULT 'outgoing'
        CHECK (direction IN ('outgoing', 'incoming'));
      ALTER TABLE rm_messages ADD COLUMN spam_status text;
      ALTER TABLE rm_messages ADD COLUMN spam_score real;
`;

/**
 * Migration 22: the incoming messages of a server, newest first, without walking its outgoing ones
 * (a few routed messages among millions sent), built concurrently.
 */
export const incomingMessagesIndex: ConcurrentIndex = {
  name: 'rm_messages_server_incoming',
  table: 'rm_messages',
  definition: "(server_id, accepted_at DESC, message_id DESC) WHERE direction = 'incoming'",
};

/**
 * Migration 24: the message list's sender filter (`from`: an address, or `@domain` for a whole
 * domain, both case-insensitive) and Message-ID filter (`messageId`), built concurrently. The sender
 * indexes carry the list's order after the server and the sender, so a common sender (a server's
 * newsletter address, often most of its mail) is read a page at a time like the server's list, and
 * a rare one is found at once; without them a search by sender read the server's every row (bench/
 * dashboard.ts). A Message-ID names one message (or the copies of one send, one per recipient), so
 * its index needs no order, and no server first: a global admin's search of every server uses it
 * too. Each index costs writes: an insert or non-HOT update of a row adds an entry to each.
 */
export const messageSenderIndex: ConcurrentIndex = {
  name: 'rm_messages_server_sender',
  table: 'rm_messages',
  definition: '(server_id, lower(mail_from), accepted_at DESC, message_id DESC)',
};
export const messageSenderDomainIndex: ConcurrentIndex = {
  name: 'rm_messages_server_sender_domain',
  table: 'rm_messages',
  definition: "(server_id, lower(split_part(mail_from, '@', -1)), accepted_at DESC, message_id DESC)",
};
/** Migration 33: a send request's messages by its batch id (the id the vendor-compatible APIs answer with). */
export const messageBatchIndex: ConcurrentIndex = {
  name: 'rm_messages_batch_id',
  table: 'rm_messages',
  definition: '(batch_id)',
};
export const messageRfcIdIndex: ConcurrentIndex = {
  name: 'rm_messages_rfc_message_id',
  table: 'rm_messages',
  definition: '(rfc_message_id)',
};

/** The table of each message's status, for the list's status filter (migration 48). */
export const RM_MESSAGE_STATUS = 'rm_message_status';

/**
 * Migration 48: the status filter reads a narrow table of its own, and rm_messages no longer
 * indexes status. A delivery changes a message's status and nothing else any index of rm_messages
 * covers, so with status out of them (and room left in each page: fillfactor 70) the update a
 * delivery makes is HOT: no new entry in rm_messages' thirteen indexes, the subject's trigrams
 * among them (measured before: ~225 µs of PostgreSQL per delivered message for the two row writes,
 * the largest statement of the delivery path; and each update bloated every index). The narrow
 * row's update still writes its two index entries. The list joins it when a status is asked for
 * (message-list.ts). The projection writes both in one transaction (message-writes.ts).
 * Filled from rm_messages here: on a large table this migration takes time in proportion, once.
 */
export const messageStatusTable = `
      CREATE TABLE rm_message_status (
        message_id  bigint PRIMARY KEY,
        server_id   uuid NOT NULL,
        direction   text NOT NULL,
        status      text NOT NULL,
        accepted_at timestamptz NOT NULL
      );
      INSERT INTO rm_message_status (message_id, server_id, direction, status, accepted_at)
        SELECT message_id, server_id, direction, status, accepted_at FROM rm_messages;
      CREATE INDEX rm_message_status_server ON rm_message_status (server_id, direction, status, accepted_at DESC, message_id DESC);
      -- the old index, under its own name or (after a rebuild of the projection swapped in a copy
      -- of the table) under a generated one
${dropIndexByDefinition('rm_messages', '(server_id, status, accepted_at DESC)')}
      ALTER TABLE rm_messages SET (fillfactor = 70);
`;
