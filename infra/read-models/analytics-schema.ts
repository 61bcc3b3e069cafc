/**
 * The embedded analytics store (projections/analytics/postgres-analytics-projection.ts writes it;
 * read-api/analytics/postgres-reports.ts reads it). Every statement on it is in this folder:
 * analytics-writes.ts, analytics-reports.ts. ClickHouse's tables are in infra/clickhouse/.
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */

/** The tables' names, for the projection that keeps them (a rebuild writes copies under other names). */
export const ANALYTICS_EVENTS = 'analytics_events';
export const ANALYTICS_MESSAGES = 'analytics_messages';

/** Migration 10: reported events and the dimensions of each message. */
export const analyticsTables = `
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
`;
