/**
 * Every error code the HTTP API answers, with its status and what it means: the one place a
 * code's status is decided (fastify's lib/errors.js is the model). `sendError` takes a code of
 * this catalogue and nothing else, so an error union whose code is missing here does not compile,
 * and docs/errors.md is written from it (test/unit/error-catalogue.test.ts keeps them equal).
 */
export const HTTP_ERRORS = {
  VALIDATION_FAILED: { status: 400, means: 'a path, query or body field is invalid; `fields` names each one' },
  INVALID_JSON: { status: 400, means: 'the body is not JSON (or is empty) where JSON is expected' },
  INVALID: { status: 400, means: 'a management request is invalid (e.g. a domain name that is not one)' },
  INVALID_SCOPE: {
    status: 400,
    means: 'the serverId given does not fit the credential (an admin token must name one)',
  },
  INVALID_COMMAND: { status: 400, means: 'the action cannot be applied as given' },
  NO_RECIPIENTS: { status: 400, means: 'the message has no recipient' },
  INVALID_LINK: { status: 400, means: 'the invitation or password-reset link is unknown, used or expired' },
  BAD_REQUEST: { status: 400, means: 'the request is malformed (answered by the HTTP framework itself)' },
  UNAUTHENTICATED: { status: 401, means: 'no credential was sent' },
  INVALID_LOGIN: { status: 401, means: 'the email or password is wrong (which one is not said)' },
  TOTP_REQUIRED: { status: 401, means: 'the account has a second factor: send `totpCode` too' },
  SESSION_EXPIRED: { status: 401, means: 'the dashboard session ended (idle or too old, or logged out): log in again' },
  INVALID_API_KEY: { status: 401, means: 'the X-Server-API-Key (or bearer API key) is not valid' },
  INVALID_ADMIN_TOKEN: { status: 401, means: 'the admin token is not valid' },
  FORBIDDEN: { status: 403, means: 'the credential may not do this (an API key acts on its own server only)' },
  SERVER_SUSPENDED: { status: 403, means: "the API key's server is suspended" },
  RELEASE_NOT_ALLOWED: {
    status: 403,
    means: "only a global admin may lift a hold that the operator's controls put on",
  },
  METRICS_TOKEN_REQUIRED: { status: 403, means: '/metrics needs the metrics token here' },
  CSRF_TOKEN_INVALID: {
    status: 403,
    means: "a change made with a session cookie needs the session's token in `X-CSRF-Token`",
  },
  ROLE_FORBIDS: { status: 403, means: "the user's role in this organization does not allow this (viewers only read)" },
  NOT_FOUND: { status: 404, means: 'no such route or resource, or one this credential may not see' },
  MESSAGE_NOT_FOUND: { status: 404, means: 'no such message, or one of a server this credential may not see' },
  METHOD_NOT_ALLOWED: { status: 405, means: 'the path exists but not with this method; `Allow` lists the methods' },
  CONFLICT: { status: 409, means: 'the name is taken, or the resource is in use' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, means: 'this Idempotency-Key was used with a different request body' },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, means: 'a request with this Idempotency-Key is still being answered' },
  MESSAGE_BEING_DELIVERED: {
    status: 409,
    means: 'a worker is delivering the message right now; retry after its outcome',
  },
  MESSAGE_ALREADY_EXISTS: { status: 409, means: 'a message with this id exists already' },
  MESSAGE_ALREADY_FINAL: { status: 409, means: 'the message was delivered, bounced, failed or cancelled already' },
  MESSAGE_HELD: { status: 409, means: 'the message is held; release it first' },
  MESSAGE_NOT_HELD: { status: 409, means: 'the message is not held' },
  MESSAGE_NOT_QUEUED: { status: 409, means: 'the message is not waiting in the queue' },
  MESSAGE_NOT_DELIVERED: { status: 409, means: 'the message was not delivered (engagement needs a delivery)' },
  MESSAGE_IN_FLIGHT: { status: 409, means: 'the message is being delivered' },
  NOTHING_TO_RETRY: {
    status: 409,
    means: 'an incoming message is handed to its endpoints again only once it was delivered or failed',
  },
  TEMPLATE_INVALID: { status: 400, means: 'a template part is not valid Handlebars; the message names the part' },
  TEMPLATE_RENDER_FAILED: {
    status: 422,
    means: 'the template names a variable the model lacks (strict rendering); nothing was accepted',
  },
  UNKNOWN_TEMPLATE: { status: 422, means: 'the server has no such template, or no such version of it' },
  ACTION_NOT_FOR_INCOMING: {
    status: 409,
    means: 'incoming messages are released or retried, not held, cancelled or redelivered',
  },
  MESSAGE_NOT_REDELIVERABLE: {
    status: 409,
    means: 'only a delivered, failed or bounced message can be delivered again (redeliver)',
  },
  CONCURRENCY_CONFLICT: { status: 409, means: 'the message changed while the action was applied; retry' },
  WRONG_EXPECTED_REVISION: { status: 409, means: 'the message changed while the action was applied; retry' },
  CONTENT_EXPIRED: {
    status: 410,
    means: "the message's content was removed after the retention period; its history remains",
  },
  PAYLOAD_TOO_LARGE: { status: 413, means: 'the body is over the size limit' },
  MESSAGE_TOO_LARGE: { status: 413, means: 'a composed message is over POSTLOG_MAX_MESSAGE_BYTES' },
  REQUEST_TOO_LARGE: {
    status: 413,
    means: "the request's copies together are too large: send fewer recipients per request",
  },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, means: 'the body is of a type the route does not take' },
  UNAUTHENTICATED_FROM_ADDRESS: { status: 422, means: "the From domain is not a verified domain of the key's server" },
  INVALID_MESSAGE_BYTES: { status: 422, means: 'the message has a NUL byte or a line over 998 bytes' },
  LOGIN_THROTTLED: {
    status: 429,
    means: 'too many failed logins for this account or from this address; `retry-after` says when to try again',
  },
  RATE_LIMITED: { status: 429, means: 'too many requests for this key; `retry-after` says when to try again' },
  INTERNAL: { status: 500, means: "Postlog's own fault: the log has the request id" },
  DUPLICATE_EVENT_ID: { status: 500, means: "Postlog's own fault (an event id was reused)" },
  INVALID_APPEND: { status: 500, means: "Postlog's own fault (an event was refused by the log)" },
  ATOMIC_APPEND_UNSUPPORTED: {
    status: 500,
    means: "Postlog's own fault (the log cannot append several streams at once)",
  },
  CORRUPT_STREAM: { status: 500, means: "Postlog's own fault (a message's history could not be read)" },
  ACCOUNT_MAIL_OFF: {
    status: 503,
    means:
      'Postlog cannot send its own mail (POSTLOG_ACCOUNT_MAIL_FROM unset, or its domain not verified): ask an administrator',
  },
  NOT_ACCEPTED: { status: 503, means: 'the messages could not be stored; nothing was accepted, retry' },
  SPAM_CHECK_UNAVAILABLE: {
    status: 503,
    means:
      "the server's outbound spam check could not be made (a scanner down, POSTLOG_SCAN_FAILURE=tempfail): retry later",
  },
  VIRUS_FOUND: {
    status: 422,
    means: 'the outbound virus scan found a virus in the message; `fields` names the signature; nothing was accepted',
  },
  VIRUS_SCAN_UNAVAILABLE: {
    status: 503,
    means: 'the outbound virus scan could not be made (clamd down or slow, POSTLOG_SCAN_FAILURE=tempfail): retry later',
  },
  DATABASE_UNAVAILABLE: {
    status: 503,
    means:
      'PostgreSQL could not take the request (down, restarting, out of disk space): nothing was stored; retry after `retry-after` seconds',
  },
} as const satisfies Record<string, { status: number; means: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** docs/errors.md, written from the catalogue. */
export function errorCatalogueMarkdown(): string {
  const rows = Object.entries(HTTP_ERRORS).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.means} |`);
  return [
    '# Error codes',
    '',
    'Every error Postlog shows has a code: the HTTP API, the SMTP listeners and the CLI each have a catalogue,',
    'and this page is generated from them (a test keeps them equal).',
    '',
    '## HTTP API',
    '',
    'Every error answer of the HTTP API is `{"code", "message", "fields"?}` with the status below; clients',
    'should act on the `code`. The catalogue is `infra/http/error-catalogue.ts`. The Postal-compatible API',
    "(`/api/v1`) answers in Postal's own envelope instead.",
    '',
    '| code | status | meaning |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
