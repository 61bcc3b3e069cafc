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
