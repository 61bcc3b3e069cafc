/**
 * SQL that is true while a queued message still needs the body whose hash is the SQL expression
 * `hash`: content retention keeps such a body (write-side/retention/content-release.ts). A
 * fragment, so that retention's deletion stays one statement; the index of migration 17
 * (schema.ts, queuedContentIndex) answers it.
 */
export const queuedMessageNeeds = (hash: string): string =>
  `EXISTS (SELECT 1 FROM delivery_queue q WHERE q.content_hash = ${hash})`;
