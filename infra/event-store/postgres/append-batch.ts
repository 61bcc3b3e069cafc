import type pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { err, ok, type Result } from '../../../domain/result.js';
import { EventToAppend, type AppendError, type AppendSuccess, type ExpectedRevision } from '../port.js';
import { encodeCheckpoint } from './checkpoint.js';

export const NOTIFY_CHANNEL = 'postlog_events';

export interface AppendRequest {
  streamId: string;
  events: EventToAppend[];
  expected: ExpectedRevision;
}

interface ParsedEvent {
  eventId: string;
  type: string;
  schemaVersion: number;
  data: string;
  metadata: string;
}

type AppendOutcome = Result<AppendSuccess, AppendError>;

/** Validates and normalises the events of one request, before any I/O. */
export function prepare(request: AppendRequest): Result<ParsedEvent[], AppendError> {
  const parsed: ParsedEvent[] = [];
  for (const [i, input] of request.events.entries()) {
    const result = EventToAppend.safeParse(input);
    if (!result.success) {
      return err({ code: 'INVALID_APPEND', streamId: request.streamId, message: `event ${i}: ${result.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}` });
    }
    const e = result.data;
    parsed.push({
      eventId: e.eventId ?? uuidv7(),
      type: e.type,
      schemaVersion: e.schemaVersion,
      data: JSON.stringify(e.data ?? null),
      metadata: JSON.stringify(e.metadata),
    });
  }
  if (request.streamId.length === 0 || request.streamId.length > 500) {
    return err({ code: 'INVALID_APPEND', streamId: request.streamId, message: 'stream id must be 1..500 characters' });
  }
  return ok(parsed);
}

function satisfies(expected: ExpectedRevision, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === -1;
  if (expected === 'stream_exists') return current >= 0;
  return current === expected;
}

/**
 * Commits many appends in ONE transaction (group commit), keeping each append's own
 * optimistic-concurrency check: an append whose expected revision does not hold gets its error
 * and writes nothing, while the others commit. Results are in request order.
 *
 * Stream rows are created (ON CONFLICT DO NOTHING) and then locked FOR UPDATE in sorted order:
 * two writers racing to create a stream serialise on its row, and sorted locking avoids deadlocks.
 */
export async function appendBatch(client: pg.ClientBase, requests: { streamId: string; expected: ExpectedRevision; events: ParsedEvent[] }[]): Promise<AppendOutcome[]> {
  const streamIds = [...new Set(requests.map((r) => r.streamId))].sort();
  const allIds = requests.flatMap((r) => r.events.map((e) => e.eventId));

  await client.query('BEGIN');
  try {
    await client.query(
      'INSERT INTO streams (stream_id, revision) SELECT id, -1 FROM unnest($1::text[]) AS id ORDER BY id ON CONFLICT DO NOTHING',
      [streamIds],
    );
    const current = new Map<string, number>();
    const locked = await client.query<{ stream_id: string; revision: number }>(
      'SELECT stream_id, revision FROM streams WHERE stream_id = ANY($1::text[]) ORDER BY stream_id FOR UPDATE',
      [streamIds],
    );
    for (const row of locked.rows) current.set(row.stream_id, row.revision);

    const existing = new Map<string, { stream_id: string; revision: number; position: number; txid: string }>();
    const found = await client.query<{ event_id: string; stream_id: string; revision: number; position: number; txid: string }>(
      'SELECT event_id, stream_id, revision, position, transaction_id::text AS txid FROM events WHERE event_id = ANY($1::uuid[])',
      [allIds],
    );
    for (const row of found.rows) existing.set(row.event_id, row);

    const outcomes: (AppendOutcome | undefined)[] = [];
    const cols = { id: [] as string[], stream: [] as string[], rev: [] as number[], type: [] as string[], ver: [] as number[], data: [] as string[], meta: [] as string[] };
    const writers: { index: number; lastEventId: string; nextRevision: number }[] = [];
    const claimed = new Set<string>();

    for (const [index, request] of requests.entries()) {
      const { streamId, expected, events } = request;
      const known = events.filter((e) => existing.has(e.eventId));
      if (known.length > 0) {
        const sameStream = known.length === events.length && known.every((e) => existing.get(e.eventId)!.stream_id === streamId);
        if (sameStream) {
          // A retry of an append that already committed: answer as the original did.
          const last = known.map((e) => existing.get(e.eventId)!).reduce((a, b) => (b.position > a.position ? b : a));
          outcomes[index] = ok({ nextExpectedRevision: current.get(streamId) ?? last.revision, position: last.position, checkpoint: encodeCheckpoint(last.txid, last.position), idempotent: true });
        } else {
          const dup = known[0]!;
          outcomes[index] = err({ code: 'DUPLICATE_EVENT_ID', streamId, eventId: dup.eventId, message: `event id ${dup.eventId} is already used by another append` });
        }
        continue;
      }
      const clash = events.find((e) => claimed.has(e.eventId));
      if (clash) {
        outcomes[index] = err({ code: 'DUPLICATE_EVENT_ID', streamId, eventId: clash.eventId, message: `event id ${clash.eventId} appears twice in concurrent appends` });
        continue;
      }
      const revision = current.get(streamId) ?? -1;
      if (!satisfies(expected, revision)) {
        outcomes[index] = err({ code: 'WRONG_EXPECTED_REVISION', streamId, expected, actual: revision === -1 ? 'no_stream' : revision });
        continue;
      }
      if (events.length === 0) {
        outcomes[index] = ok({ nextExpectedRevision: revision, position: -1, checkpoint: '', idempotent: true });
        continue;
      }
      events.forEach((e, i) => {
        claimed.add(e.eventId);
        cols.id.push(e.eventId);
        cols.stream.push(streamId);
        cols.rev.push(revision + 1 + i);
        cols.type.push(e.type);
        cols.ver.push(e.schemaVersion);
        cols.data.push(e.data);
        cols.meta.push(e.metadata);
      });
      current.set(streamId, revision + events.length);
      writers.push({ index, lastEventId: events[events.length - 1]!.eventId, nextRevision: revision + events.length });
    }

    if (cols.id.length > 0) {
      const inserted = await client.query<{ event_id: string; position: number; txid: string }>(
        `INSERT INTO events (event_id, stream_id, revision, type, schema_version, data, metadata)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::int[], $6::jsonb[], $7::jsonb[])
         RETURNING event_id, position, transaction_id::text AS txid`,
        [cols.id, cols.stream, cols.rev, cols.type, cols.ver, cols.data, cols.meta],
      );
      const byId = new Map(inserted.rows.map((r) => [r.event_id, r]));
      for (const w of writers) {
        const row = byId.get(w.lastEventId)!;
        outcomes[w.index] = ok({ nextExpectedRevision: w.nextRevision, position: row.position, checkpoint: encodeCheckpoint(row.txid, row.position), idempotent: false });
      }
      const touched = [...new Set(cols.stream)];
      await client.query(
        'UPDATE streams AS s SET revision = v.rev, updated_at = now() FROM unnest($1::text[], $2::bigint[]) AS v(id, rev) WHERE s.stream_id = v.id',
        [touched, touched.map((s) => current.get(s)!)],
      );
      await client.query(`SELECT pg_notify('${NOTIFY_CHANNEL}', '')`);
    }
    // Stream rows created only to be locked, by appends that did not write, are removed again.
    const empty = streamIds.filter((s) => (current.get(s) ?? -1) === -1);
    if (empty.length > 0) await client.query('DELETE FROM streams WHERE stream_id = ANY($1::text[]) AND revision = -1', [empty]);
    await client.query('COMMIT');
    return outcomes as AppendOutcome[];
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
