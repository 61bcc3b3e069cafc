import type pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { err, ok, type Result } from '../../../domain/result.js';
import { EventToAppend, type AppendError, type AppendSuccess, type ExpectedRevision } from '../port.js';
import { encodeCheckpoint } from './checkpoint.js';

/** Fired (by postlog_append_batch) on every commit that wrote events. */
export const NOTIFY_CHANNEL = 'postlog_events';

export interface AppendRequest {
  streamId: string;
  events: EventToAppend[];
  expected: ExpectedRevision;
}

export interface ParsedEvent {
  eventId: string;
  type: string;
  schemaVersion: number;
  data: string;
  metadata: string;
}

type AppendOutcome = Result<AppendSuccess, AppendError>;

/**
 * PostgreSQL's jsonb cannot hold U+0000, and a remote server's reply may contain one: it becomes
 * U+FFFD. (Only an escape preceded by an even number of backslashes is a NUL.)
 */
export const withoutNul = (json: string) =>
  json.includes('\\u0000') ? json.replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\ufffd') : json;

/** Validates and normalises the events of one request, before any I/O. */
export function prepare(request: AppendRequest): Result<ParsedEvent[], AppendError> {
  const parsed: ParsedEvent[] = [];
  for (const [i, input] of request.events.entries()) {
    const result = EventToAppend.safeParse(input);
    if (!result.success) {
      return err({
        code: 'INVALID_APPEND',
        streamId: request.streamId,
        message: `event ${i}: ${result.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
      });
    }
    const e = result.data;
    parsed.push({
      // uuid's own v7: with options given it would drop the counter that orders ids within a millisecond
      eventId: e.eventId ?? uuidv7(),
      type: e.type,
      schemaVersion: e.schemaVersion,
      data: withoutNul(JSON.stringify(e.data ?? null)),
      metadata: withoutNul(JSON.stringify(e.metadata)),
    });
  }
  if (request.streamId.length === 0 || request.streamId.length > 500) {
    return err({ code: 'INVALID_APPEND', streamId: request.streamId, message: 'stream id must be 1..500 characters' });
  }
  return ok(parsed);
}

const EXPECTED_CODES: Record<string, number> = { no_stream: -1, any: -2, stream_exists: -3 };

interface BatchRow {
  append_index: number;
  outcome: 'written' | 'idempotent' | 'wrong_expected_revision' | 'duplicate_event_id';
  revision: number;
  last_position: number | null;
  last_txid: string | null;
  event_id: string | null;
}

/**
 * Commits many appends in ONE statement, so one transaction and one round trip (group commit),
 * keeping each append's own optimistic-concurrency check: see postlog_append_batch in schema.ts.
 * Results are in request order. Event ids must be unique across the batch.
 */
export interface PreparedAppend {
  streamId: string;
  expected: ExpectedRevision;
  events: ParsedEvent[];
}

/** Thrown inside postlog_append_batch when an atomic group has an append that cannot commit. */
const ATOMIC_FAILURE = 'postlog_atomic_append_failed';

export async function appendBatch(
  client: pg.ClientBase,
  requests: PreparedAppend[],
  atomic = false,
): Promise<AppendOutcome[]> {
  const events = requests.flatMap((r) => r.events.map((e) => ({ ...e, streamId: r.streamId })));
  let rows: BatchRow[];
  try {
    // a named statement: each connection parses and plans it once, not on every commit
    rows = (
      await client.query<BatchRow>({
        name: 'postlog_append_batch',
        text: 'SELECT * FROM postlog_append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
        values: [
          requests.map((r) => r.streamId),
          requests.map((r) => (typeof r.expected === 'number' ? r.expected : EXPECTED_CODES[r.expected]!)),
          requests.map((r) => r.events.length),
          events.map((e) => e.eventId),
          events.map((e) => e.streamId),
          events.map((e) => e.type),
          events.map((e) => e.schemaVersion),
          events.map((e) => e.data),
          events.map((e) => e.metadata),
          atomic,
        ],
      })
    ).rows;
  } catch (e) {
    const pgError = e as { message?: string; detail?: string };
    if (!atomic || pgError.message !== ATOMIC_FAILURE || !pgError.detail) throw e;
    // nothing was written: the failing append gets its reason, every other one a rollback note
    const fail = JSON.parse(pgError.detail) as {
      index: number;
      outcome: BatchRow['outcome'];
      revision: number;
      eventId?: string;
    };
    const failed = requests[fail.index - 1]!;
    return requests.map((r, i) =>
      i === fail.index - 1
        ? toError(
            {
              append_index: fail.index,
              outcome: fail.outcome,
              revision: fail.revision,
              last_position: null,
              last_txid: null,
              event_id: fail.eventId ?? null,
            },
            failed,
          )
        : err({
            code: 'INVALID_APPEND',
            streamId: r.streamId,
            message: `rolled back with the atomic group: ${failed.streamId} could not be appended`,
          }),
    );
  }
  const outcomes: AppendOutcome[] = new Array(requests.length);
  for (const row of rows) {
    const request = requests[row.append_index - 1]!;
    switch (row.outcome) {
      case 'written':
      case 'idempotent':
        outcomes[row.append_index - 1] = ok({
          nextExpectedRevision: row.revision,
          position: row.last_position ?? -1,
          checkpoint:
            row.last_txid !== null && row.last_position !== null
              ? encodeCheckpoint(row.last_txid, row.last_position)
              : '',
          idempotent: row.outcome === 'idempotent',
        });
        break;
      default:
        outcomes[row.append_index - 1] = toError(row, request);
    }
  }
  return outcomes;
}

function toError(row: BatchRow, { streamId, expected }: PreparedAppend): AppendOutcome {
  if (row.outcome === 'duplicate_event_id') {
    return err({
      code: 'DUPLICATE_EVENT_ID',
      streamId,
      eventId: row.event_id ?? '',
      message: `event id ${row.event_id} is already used by another append`,
    });
  }
  return err({
    code: 'WRONG_EXPECTED_REVISION',
    streamId,
    expected,
    actual: row.revision === -1 ? 'no_stream' : row.revision,
  });
}
