import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { isDatabaseUnavailable } from '../../../infra/http/database-unavailable.js';
import { HTTP_ERRORS } from '../../../infra/http/error-catalogue.js';
import type { SendFailure } from '../../send/send-emails.js';

/** One entry of SendGrid's error body: what is wrong, the field (dotted, with indexes) and a help link. */
export interface SendGridProblem {
  message: string;
  field: string | null;
  help?: string | null;
}

/** SendGrid's statuses for mail/send: what its clients (and their users' code) look at. */
export type SendGridStatus = 400 | 401 | 403 | 413 | 415 | 429 | 500 | 503;

const HELP = 'http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.';

/** SendGrid links each field to its section of the errors page, named by the field without its indexes. */
const helpFor = (field: string | null) => (field === null ? null : HELP + field.replace(/\.\d+(?=\.|$)/g, ''));

/** SendGrid's error body, `{"errors":[{"message","field","help"}]}`, with its status. */
export function sendGridError(reply: FastifyReply, status: SendGridStatus, problems: SendGridProblem[]) {
  return reply.code(status).send({
    errors: problems.map((p) => ({ message: p.message, field: p.field, help: p.help ?? helpFor(p.field) })),
  });
}

export const problem = (field: string | null, message: string): SendGridProblem => ({ field, message });

/** SendGrid's own words for the mistakes its users make most; other issues keep zod's message. */
function sendGridWording(field: string, issue: z.core.$ZodIssue): string {
  if (field === 'personalizations')
    return 'The personalizations field is required and must have at least one personalization.';
  if (field === 'from' || field === 'from.email')
    return (
      'The from object must be provided for every email send. It is an object that requires the email ' +
      'parameter, but may also contain a name parameter.'
    );
  if (/^personalizations\.\d+\.to$/.test(field))
    return (
      'The to array is required for all personalization objects, and must have at least one email object ' +
      'with a valid email address.'
    );
  if (/^content\.\d+\.value$/.test(field))
    return 'The content value must be a string at least one character in length.';
  if (issue.code === 'invalid_type') return `Invalid type. Expected: ${issue.expected}.`;
  return issue.message;
}

/** The schema's complaints as SendGrid lists them: one entry per field (an unknown field is named itself). */
export function schemaProblems(error: z.ZodError): SendGridProblem[] {
  const problems: SendGridProblem[] = [];
  for (const issue of error.issues) {
    const field = issue.path.map(String).join('.');
    if (issue.path.length === 0 && issue.code === 'invalid_type') {
      problems.push(problem(null, 'Bad Request'));
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        problems.push(
          problem(field ? `${field}.${key}` : key, 'is not a field of SendGrid\u2019s mail/send that Postlog takes'),
        );
      continue;
    }
    problems.push(problem(field, sendGridWording(field, issue)));
  }
  return problems;
}

/** A refusal of the shared send path (send-emails.ts) as SendGrid would answer it. */
export function failureAnswer(failure: SendFailure): { status: SendGridStatus; problems: SendGridProblem[] } {
  const { code, message } = failure;
  switch (code) {
    case 'UNAUTHENTICATED_FROM_ADDRESS':
      return {
        status: 403,
        problems: [
          problem(
            'from',
            'The from address does not match a verified Sender Identity. Mail cannot be sent until this error is ' +
              `resolved. (${message})`,
          ),
        ],
      };
    case 'UNKNOWN_TEMPLATE':
      return {
        status: 400,
        problems: [problem('template_id', `The template_id is not a template of this server: ${message}`)],
      };
    case 'TEMPLATE_RENDER_FAILED': {
      // send-emails names the email first ("personalizations.2: …") and the variable in its fields
      const email = /^(personalizations\.\d+):/.exec(message)?.[1];
      const variable = failure.fields?.[0]?.path.replace(/^template\.model\.?/, '');
      const field = email ? `${email}.dynamic_template_data${variable ? `.${variable}` : ''}` : 'template_id';
      return { status: 400, problems: [problem(field, message)] };
    }
    case 'NOT_ACCEPTED':
    case 'SPAM_CHECK_UNAVAILABLE':
    case 'VIRUS_SCAN_UNAVAILABLE':
      return { status: 503, problems: [problem(null, message)] };
    default: {
      const status = HTTP_ERRORS[code].status;
      const fields = failure.fields?.length ? failure.fields : [{ path: '', message }];
      return {
        status: status === 413 ? 413 : status === 403 ? 403 : status >= 500 ? 500 : 400,
        problems: fields.map((f) => problem(f.path || null, f.path ? f.message : message)),
      };
    }
  }
}

/** The framework's own refusals (JSON that is not, a body over the limit, the rate limit) in SendGrid's shape. */
export function sendGridErrorHandler(error: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return sendGridError(reply, 413, [
      problem(null, 'The JSON payload you have included in your request is too large.'),
    ]);
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return sendGridError(reply, 415, [problem(null, 'Content-Type should be application/json.')]);
  if (error.statusCode === 429) return sendGridError(reply, 429, [problem(null, error.message)]);
  if (error.statusCode && error.statusCode < 500) return sendGridError(reply, 400, [problem(null, 'Bad Request')]);
  // PostgreSQL down, restarting or out of disk: nothing was stored, the client should retry (the chaos run)
  if (isDatabaseUnavailable(error)) {
    req.log.warn({ err: error, url: req.url }, 'the database cannot take the request now');
    reply.header('retry-after', '5');
    return sendGridError(reply, 503, [problem(null, 'the database cannot take the request now; retry shortly')]);
  }
  req.log.error({ err: error, url: req.url }, 'unhandled error');
  return sendGridError(reply, 500, [problem(null, 'internal error; the request id is in the logs')]);
}
