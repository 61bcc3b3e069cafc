/**
 * SQL that is true while an inbound message an endpoint has still to take needs the body whose hash
 * is the SQL expression `hash`: content retention keeps such a body (infra/content/content-retention.ts).
 * A fragment, so that retention's deletion stays one statement. route_deliveries holds mail received
 * before routes had modes (migration 21); endpoint_deliveries everything since.
 */
export const pendingRouteDeliveryNeeds = (hash: string): string =>
  `(EXISTS (SELECT 1 FROM route_deliveries r WHERE r.content_sha256 = ${hash} AND r.status = 'pending')
    OR EXISTS (SELECT 1 FROM endpoint_deliveries e WHERE e.content_hash = ${hash} AND e.status = 'pending'))`;
