import type { FastifyReply } from 'fastify';

/**
 * The Postmark API's error codes that Postlog answers with (postmarkapp.com/developer/api/overview#error-codes):
 * the HTTP status and the `ErrorCode` of the body `{"ErrorCode": n, "Message": "…"}` that Postmark's clients read.
 */
export const POSTMARK_ERRORS = {
  BadToken: { status: 401, errorCode: 10, message: 'Request does not contain a valid Server token.' },
  Unavailable: { status: 503, errorCode: 100, message: 'Postlog could not store the message; nothing was sent.' },
  InvalidEmailRequest: { status: 422, errorCode: 300, message: 'Invalid email request.' },
  SenderSignatureNotFound: { status: 422, errorCode: 400, message: 'Sender signature not found.' },
  InvalidJson: { status: 422, errorCode: 402, message: 'Invalid JSON.' },
  NotAllowedToSend: { status: 422, errorCode: 405, message: 'Not allowed to send.' },
  JsonRequired: { status: 422, errorCode: 409, message: 'JSON required.' },
  TooManyBatchMessages: { status: 422, errorCode: 410, message: 'Too many batch messages.' },
  RateLimited: { status: 429, errorCode: 429, message: 'Rate limit exceeded.' },
  TemplateNotFound: { status: 422, errorCode: 1101, message: 'Template not found.' },
  MessageStreamNotFound: { status: 422, errorCode: 1235, message: 'The message stream was not found.' },
} as const;

export type PostmarkErrorName = keyof typeof POSTMARK_ERRORS;

export interface PostmarkFailure {
  error: PostmarkErrorName;
  /** Overrides the catalogue's message: says what exactly was wrong. */
  message?: string | undefined;
}

/** The body Postmark's clients expect for a failure. */
export const postmarkErrorBody = (f: PostmarkFailure) => ({
  ErrorCode: POSTMARK_ERRORS[f.error].errorCode,
  Message: f.message ?? POSTMARK_ERRORS[f.error].message,
});

export function sendPostmarkError(reply: FastifyReply, f: PostmarkFailure) {
  return reply.code(POSTMARK_ERRORS[f.error].status).send(postmarkErrorBody(f));
}
