/**
 * SQL that is true while an inbound route delivery still pending needs the body whose hash is the
 * SQL expression `hash`: content retention keeps such a body (infra/content/content-retention.ts).
 * A fragment, so that retention's deletion stays one statement.
 */
export const pendingRouteDeliveryNeeds = (hash: string): string =>
  `EXISTS (SELECT 1 FROM route_deliveries r WHERE r.content_sha256 = ${hash} AND r.status = 'pending')`;
