/**
 * Inbound routes to HTTP endpoints and the messages handed to them (route-store.ts).
 *
 * The migrations (infra/postgres/migrations-list.ts) run these texts in order; a migration that ran
 * once on users' databases is history, so a step here is never edited, only followed by a new one.
 */
import type { ConcurrentIndex } from '../postgres/migration.js';

/** Migration 8: routes and their deliveries. */
export const routeTables = `
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
`;

/** Migration 17: inbound mail an HTTP route has still to take keeps its body (retention), built concurrently. */
export const pendingRouteContentIndex: ConcurrentIndex = {
  name: 'route_deliveries_pending_content',
  table: 'route_deliveries',
  definition: "(content_sha256) WHERE status = 'pending'",
};

/**
 * Migration 21: Postal's route modes and spam modes, several endpoints per route (HTTP, SMTP,
 * an address), and the queue of incoming messages handed to endpoints: a projection of the log
 * (projections/inbound/endpoint-queue-projection.ts), rebuilt like the others. A route's single
 * endpoint of migration 8 becomes its first endpoint; its column stays for the history, unread.
 * route_deliveries keeps serving the mail it holds (received before this version) until drained.
 */
export const routeModesAndEndpoints = `
      ALTER TABLE routes ADD COLUMN mode text NOT NULL DEFAULT 'endpoint'
        CHECK (mode IN ('endpoint', 'accept', 'hold', 'bounce', 'reject'));
      ALTER TABLE routes ADD COLUMN spam_mode text NOT NULL DEFAULT 'mark'
        CHECK (spam_mode IN ('mark', 'quarantine', 'fail'));
      ALTER TABLE routes ALTER COLUMN endpoint_url DROP NOT NULL;

      CREATE TABLE route_endpoints (
        id                  uuid PRIMARY KEY,
        route_id            uuid NOT NULL REFERENCES routes (id) ON DELETE CASCADE,
        position            integer NOT NULL,
        -- http: a URL; smtp: host:port of another server; address: a mailbox our own MTA delivers to
        kind                text NOT NULL CHECK (kind IN ('http', 'smtp', 'address')),
        target              text NOT NULL,
        -- http only: Postal's JSON ("Hash"), the same as a form, or the raw message
        format              text NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'form', 'raw')),
        include_attachments boolean NOT NULL DEFAULT true,
        strip_replies       boolean NOT NULL DEFAULT false,
        timeout_seconds     integer NOT NULL DEFAULT 30 CHECK (timeout_seconds BETWEEN 1 AND 60),
        created_at          timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX route_endpoints_route ON route_endpoints (route_id, position);
      INSERT INTO route_endpoints (id, route_id, position, kind, target, format)
        SELECT gen_random_uuid(), id, 0, 'http', endpoint_url, format FROM routes WHERE endpoint_url IS NOT NULL;

      CREATE TABLE endpoint_deliveries (
        message_id     bigint NOT NULL,
        endpoint_id    uuid NOT NULL,
        route_id       uuid NOT NULL,
        content_hash   text NOT NULL,
        status         text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts       integer NOT NULL DEFAULT 0,
        due_at         timestamptz NOT NULL,
        -- a dispatcher's hold on the row while it delivers (not from the log)
        lease_until    timestamptz,
        last_code      integer,
        last_response  text,
        last_attempt_at timestamptz,
        PRIMARY KEY (message_id, endpoint_id)
      );
      CREATE INDEX endpoint_deliveries_due ON endpoint_deliveries (due_at) WHERE status = 'pending';
      CREATE INDEX endpoint_deliveries_route ON endpoint_deliveries (route_id, message_id DESC);
      CREATE INDEX endpoint_deliveries_pending_content ON endpoint_deliveries (content_hash) WHERE status = 'pending';
`;
