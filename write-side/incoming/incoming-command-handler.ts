import {
  decideIncoming,
  err,
  evolveIncoming,
  IncomingCommand,
  incomingEventCodec,
  incomingStreamId,
  initialIncomingState,
  ok,
  type IncomingCommandInput,
  type IncomingError,
  type IncomingEvent,
  type IncomingState,
  type Result,
} from '../../domain/index.js';
import type { AppendError, EventMetadata, EventStore, ExpectedRevision } from '../../infra/event-store/index.js';

export type IncomingCommandError =
  | IncomingError
  | { code: 'INVALID_COMMAND'; message: string }
  | { code: 'CONCURRENCY_CONFLICT'; message: string }
  | AppendError
  | { code: 'CORRUPT_STREAM'; message: string };

export interface LoadedIncoming {
  state: IncomingState;
  events: IncomingEvent[];
  revision: ExpectedRevision;
}

/** An incoming message's events and state (status 'none' when there is no such stream). */
export async function loadIncoming(
  store: EventStore,
  messageId: string,
): Promise<Result<LoadedIncoming, IncomingCommandError>> {
  const recorded = await store.readStream(incomingStreamId(messageId));
  const events: IncomingEvent[] = [];
  for (const r of recorded) {
    const decoded = incomingEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (!decoded.ok)
      return err({ code: 'CORRUPT_STREAM', message: `event ${r.eventId} (${r.type}): ${decoded.error.code}` });
    events.push(decoded.value);
  }
  return ok({
    state: events.reduce(evolveIncoming, initialIncomingState()),
    events,
    revision: recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.revision,
  });
}

/**
 * Load → decide → append with the revision decided on; decided again on the fresh state when
 * another writer got there first (a dispatcher's attempt racing an operator's retry).
 */
export async function handleIncomingCommand(
  store: EventStore,
  messageId: string,
  input: IncomingCommandInput,
  metadata: EventMetadata = {},
  maxAttempts = 5,
): Promise<Result<{ events: IncomingEvent[]; state: IncomingState }, IncomingCommandError>> {
  const parsed = IncomingCommand.safeParse(input);
  if (!parsed.success)
    return err({
      code: 'INVALID_COMMAND',
      message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    });
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const loaded = await loadIncoming(store, messageId);
    if (!loaded.ok) return loaded;
    const decision = decideIncoming(parsed.data, loaded.value.state);
    if (!decision.ok) return decision;
    const events = decision.value;
    const state = events.reduce(evolveIncoming, loaded.value.state);
    if (events.length === 0) return ok({ events, state });
    const appended = await store.append(
      incomingStreamId(messageId),
      events.map((e) => ({
        type: e.type,
        schemaVersion: incomingEventCodec.schemaVersionOf(e.type),
        data: e.data,
        metadata,
      })),
      loaded.value.revision,
    );
    if (appended.ok) return ok({ events, state });
    if (appended.error.code !== 'WRONG_EXPECTED_REVISION') return err(appended.error);
  }
  return err({
    code: 'CONCURRENCY_CONFLICT',
    message: `message ${messageId} kept changing under ${maxAttempts} attempts`,
  });
}
