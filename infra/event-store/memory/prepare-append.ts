import { err, ok, type Result } from '../../../domain/result.js';
import { prepare, type AppendRequest, type PreparedAppend } from '../postgres/append-batch.js';
import type { AppendError, EventToAppend, ExpectedRevision } from '../port.js';

const EXPECTED_WORDS = new Set(['no_stream', 'any', 'stream_exists']);

/**
 * Validates appends before the log sees them, with the checks every adapter shares (prepare:
 * the EventToAppend schema, stream id length, JSON text without NULs) and the ones a database
 * would make: a whole expected revision ≥ 0, each stream once, each event id once. Ids are
 * lower-cased as a uuid column returns them; missing ids come from `newEventId`.
 */
export function prepareAppends(
  appends: AppendRequest[],
  newEventId: () => string,
): Result<PreparedAppend[], AppendError> {
  const prepared: PreparedAppend[] = [];
  const streams = new Set<string>();
  const ids = new Set<string>();
  for (const { streamId, expected, events } of appends) {
    const invalid = (message: string) => err<AppendError>({ code: 'INVALID_APPEND', streamId, message });
    if (streams.has(streamId)) return invalid('a stream may appear only once in appendMany');
    streams.add(streamId);
    if (!validExpected(expected)) {
      const allowed = 'no_stream, any, stream_exists or a whole number ≥ 0';
      return invalid(`expected revision must be ${allowed}, got ${JSON.stringify(expected)}`);
    }
    const parsed = prepare({ streamId, expected, events: events.map((e) => withId(e, newEventId)) });
    if (!parsed.ok) return parsed;
    for (const e of parsed.value) {
      e.eventId = e.eventId.toLowerCase();
      if (ids.has(e.eventId)) return invalid(`event id ${e.eventId} appears more than once in this append`);
      ids.add(e.eventId);
    }
    prepared.push({ streamId, expected, events: parsed.value });
  }
  return ok(prepared);
}

function validExpected(expected: ExpectedRevision): boolean {
  return typeof expected === 'number' ? Number.isSafeInteger(expected) && expected >= 0 : EXPECTED_WORDS.has(expected);
}

/** Anything but an object is left to prepare() to refuse. */
function withId(e: EventToAppend, newEventId: () => string): EventToAppend {
  return e && typeof e === 'object' && e.eventId === undefined ? { ...e, eventId: newEventId() } : e;
}
