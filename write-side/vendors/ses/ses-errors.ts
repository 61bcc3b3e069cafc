import type { FastifyReply } from 'fastify';

/**
 * The Amazon SES v2 errors Postlog answers with (docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html
 * and the common errors): the AWS SDK reads the type from `x-amzn-ErrorType` and the text from `message`, so its
 * error classes (`MessageRejected`, `BadRequestException`…) work as against SES.
 */
export const SES_ERRORS = {
  IncompleteSignatureException: 403,
  InvalidSignatureException: 403,
  UnrecognizedClientException: 403,
  SerializationException: 400,
  BadRequestException: 400,
  MessageRejected: 400,
  AccountSuspendedException: 400,
  NotFoundException: 404,
  TooManyRequestsException: 429,
  ServiceUnavailable: 503,
} as const;

export type SesErrorType = keyof typeof SES_ERRORS;

export interface SesFailure {
  type: SesErrorType;
  message: string;
}

export function sendSesError(reply: FastifyReply, f: SesFailure) {
  return reply
    .code(SES_ERRORS[f.type])
    .header('x-amzn-errortype', f.type)
    .header('x-amzn-requestid', reply.request.id)
    .send({ message: f.message });
}
