/**
 * The reputation guard's counts (reputation-counts.ts): per server, sending domain and minute, the
 * messages delivered and bounced, the hard bounces and the complaints, and the sender of each message
 * (its later events carry neither server nor From). A projection of the log (projections/reputation/):
 * rebuilt from the message events.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** Migration 43: the counts by minute, and each message's server and sending domain. */
export const reputationTables = `
      CREATE TABLE reputation_counts (
        server_id      uuid NOT NULL,
        -- the From domain, lower case
        sending_domain text NOT NULL,
        -- the minute the events happened in (their "at"), so a window can start at any minute
        minute         timestamptz NOT NULL,
        delivered      bigint NOT NULL DEFAULT 0,
        bounced        bigint NOT NULL DEFAULT 0,
        -- bounces whose recipient is suppressed (a bad address, not a policy block)
        hard_bounces   bigint NOT NULL DEFAULT 0,
        complaints     bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (server_id, sending_domain, minute)
      );
      CREATE INDEX reputation_counts_minute ON reputation_counts (minute);

      CREATE TABLE reputation_senders (
        message_id     bigint PRIMARY KEY,
        server_id      uuid NOT NULL,
        sending_domain text NOT NULL
      );
`;
