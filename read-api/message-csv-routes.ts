import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { z } from 'zod';
import { authenticate } from '../infra/http/auth.js';
import { csvLine } from '../infra/http/csv.js';
import { FAILS, responses } from '../infra/http/responses.js';
import { type MessageSearch, searchMessages } from '../infra/read-models/index.js';
import { MessageFilters, searchOf } from './message-filters.js';
import type { ListDeps } from './message-list-routes.js';
import { readableServers } from './readable-servers.js';

/** The most rows one export holds: a bigger list is one to narrow down first (by days, say). */
export const CSV_ROW_LIMIT = 100_000;
/** Rows read per query: the export walks the list a page at a time, as a client with the cursor would. */
const PAGE = 1000;
const COLUMNS = ['id', 'accepted_at', 'status', 'from', 'to', 'subject', 'tag', 'attempts', 'last_reply'];

/**
 * The lines of the export: the header line, the matching messages newest first, and when more
 * match than `limit`, a last line that says so (a one-cell record starting with `#`). Read a page
 * at a time with the list's own query and cursor, so the export reads the list's indexes and
 * holds one page in memory; rows accepted while it runs are newer than its first page and left out.
 */
async function* csvLines(
  pool: pg.Pool,
  search: Omit<MessageSearch, 'before' | 'limit'>,
  limit: number,
): AsyncGenerator<string> {
  yield csvLine(COLUMNS);
  let before: MessageSearch['before'] = null;
  for (let room = limit; ; ) {
    const wanted = Math.min(PAGE, room + 1); // one past the limit: whether more match
    const rows = await searchMessages(pool, { ...search, before, limit: wanted });
    const kept = rows.slice(0, room);
    yield kept
      .map((r) => [
        r.id,
        r.accepted_at.toISOString(),
        r.status,
        r.mail_from,
        r.rcpt_to,
        r.subject,
        r.tag,
        r.attempts,
        r.last_reply,
      ])
      .map(csvLine)
      .join('');
    room -= kept.length;
    if (rows.length > kept.length) {
      yield csvLine([
        `# more messages match than the limit of ${limit}: narrow the filters (since, until) for the rest`,
      ]);
      return;
    }
    const last = rows[rows.length - 1];
    if (rows.length < wanted || !last) return;
    before = { at: last.accepted_at.toISOString(), id: last.id };
  }
}

/** GET /v2/messages.csv: the message list's filters and authorization, answered as a CSV download. */
export function messageCsvRoutes(deps: ListDeps) {
  return async function plugin(appBase: FastifyInstance) {
    const app = appBase.withTypeProvider<ZodTypeProvider>();
    app.get('/v2/messages.csv', {
      preHandler: authenticate(deps.auth, ['server', 'admin']),
      schema: {
        tags: ['messages'],
        summary: `The message list as a CSV download, newest first: the list's filters, at most ${CSV_ROW_LIMIT} rows`,
        description:
          'Columns: id, accepted_at, status, from, to, subject, tag, attempts, last_reply. RFC 4180 quoting, CRLF ' +
          "line ends; a cell starting with = + - @ (or a tab) starts with ' so that a spreadsheet shows it as " +
          'text. X-Row-Limit says the limit; when more messages match, the last line is a one-cell record ' +
          'starting with `#` that says so.',
        security: [{ apiKey: [] }, { adminToken: [] }],
        querystring: MessageFilters.extend({
          limit: z.coerce.number().int().min(1).max(CSV_ROW_LIMIT).default(CSV_ROW_LIMIT),
        }),
        // 400 an invalid filter, 401/403 a key or token, 404 a server it may not see: as the list
        response: responses(
          { 200: { description: 'the messages, as CSV', content: { 'text/csv': { schema: z.string() } } } },
          [...FAILS.invalid, ...FAILS.apiKey, 404],
        ),
      },
      handler: async (req, reply) => {
        const servers = await readableServers(deps.tenancy, req, reply, req.query.serverId);
        if (servers === undefined) return reply;
        const day = new Date().toISOString().slice(0, 10);
        const which = servers?.length === 1 ? servers[0] : 'all';
        return (
          reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="messages-${which}-${day}.csv"`)
            .header('x-row-limit', String(req.query.limit))
            // a stream, sent as it comes (the document says: a string of text/csv)
            .send(
              Readable.from(csvLines(deps.pool, searchOf(servers, req.query), req.query.limit)) as unknown as string,
            )
        );
      },
    });
  };
}
