import { qualified } from './sql.js';

/**
 * ClickHouse schema migrations, applied in order by migrations.ts. Never edit one that has shipped:
 * add a new one.
 *
 * Rules for statements (ClickHouse has no transactions, and a crash or a second process can run a
 * migration's statements again):
 * - each statement must reach its goal state when run again: CREATE … IF NOT EXISTS, DROP … IF
 *   EXISTS. 18.16 has no ADD/DROP COLUMN IF [NOT] EXISTS: write a plain ALTER; the runner treats
 *   "already exists" / "no such column" answers as done (see migrations.ts).
 * - valid on 18.16 (the tests run them on it) and on current ClickHouse (the dialect test runs them
 *   through chdb): MergeTree engines with ENGINE = X() PARTITION BY … ORDER BY … (not the old
 *   MergeTree(date, key, 8192) form, gone from current releases); no LowCardinality (experimental and
 *   behind a setting on 18.16), no IPv4/IPv6 types, no SimpleAggregateFunction, no Nullable in keys.
 */
export interface ClickHouseMigration {
  version: number;
  name: string;
  statements: (database: string) => string[];
}

export const clickhouseMigrations: ClickHouseMigration[] = [
  {
    version: 1,
    name: 'events table',
    statements: (database) => {
      const events = qualified(database, 'events').text;
      return [
        // One row per lifecycle/engagement event, dimensions denormalised. ReplacingMergeTree with
        // event_id last in the sorting key: a second copy of an event (at-least-once delivery)
        // has the same key and merges away. The key leads with what every report filters on
        // (server, event type, time range), so a report reads only its server's and types' ranges.
        `CREATE TABLE IF NOT EXISTS ${events} (
          event_id UUID,
          position UInt64,
          event_type String,
          event_time DateTime('UTC'),
          server_id String,
          message_id String,
          recipient_domain String,
          mailbox_provider String,
          sending_domain String,
          tag String,
          ip String,
          bounce_classification String,
          url String,
          machine UInt8,
          smtp_code UInt16,
          enhanced_code String,
          attempt UInt16,
          seconds_since_accepted UInt32
        ) ENGINE = ReplacingMergeTree()
        PARTITION BY toYYYYMM(event_time)
        ORDER BY (server_id, event_type, event_time, event_id)
        SETTINGS index_granularity = 8192`,
      ];
    },
  },
];
