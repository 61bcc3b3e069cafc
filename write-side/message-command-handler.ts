import {
  decide,
  evolve,
  initialState,
  messageEventCodec,
  messageStreamId,
  MessageCommand,
  err,
  ok,
  type MessageCommandInput,
  type MessageError,
  type MessageEvent,
  type MessageState,
  type Result,
} from '../domain/index.js';
import type { KeptState } from '../infra/delivery-queue/index.js';
import type {
  AppendError,
  EventMetadata,
  EventStore,
  ExpectedRevision,
  RecordedEvent,
} from '../infra/event-store/index.js';

export type CommandError =
  | MessageError
  | { code: 'INVALID_COMMAND'; message: string }
  | { code: 'CONCURRENCY_CONFLICT'; message: string }
  | AppendError
  | { code: 'CORRUPT_STREAM'; message: string };

export interface CommandOutcome {
  events: MessageEvent[];
  state: MessageState;
  nextExpectedRevision: number;
}

export interface LoadedMessage {
  state: MessageState;
  revision: ExpectedRevision;
}

export async function loadMessage(store: EventStore, messageId: string): Promise<Result<LoadedMessage, CommandError>> {
  return foldRecorded(await store.readStream(messageStreamId(messageId)));
}

/** Many messages with one read (the MTA loads a connection's worth at once). */
export async function loadMessages(
  store: EventStore,
  messageIds: string[],
): Promise<Map<string, Result<LoadedMessage, CommandError>>> {
  const streams = await store.readStreams(messageIds.map(messageStreamId));
  return new Map(messageIds.map((id) => [id, foldRecorded(streams.get(messageStreamId(id)) ?? [])]));
}

/**
 * Many messages, each from a state kept outside the log (the delivery queue's, folded by its
 * projection) when the stream has not moved past the revision it was folded to, else read: one
 * look at the streams' revisions instead of reading every stream back. A state that is stale (a
 * cancel, a hold) is never used, and one used is re-decided anyway if a writer gets in before the
 * append (handleMessageCommand's `known`).
 */
export async function loadMessagesKept(
  store: EventStore,
  messages: { messageId: string; kept?: KeptState | undefined }[],
): Promise<Map<string, Result<LoadedMessage, CommandError>>> {
  const withKept = messages.filter((m) => m.kept);
  const revisions =
    withKept.length > 0
      ? await store.streamRevisions(withKept.map((m) => messageStreamId(m.messageId)))
      : new Map<string, number>();
  const out = new Map<string, Result<LoadedMessage, CommandError>>();
  const unread: string[] = [];
  for (const m of messages) {
    if (m.kept && revisions.get(messageStreamId(m.messageId)) === m.kept.revision)
      out.set(m.messageId, ok({ state: m.kept.state, revision: m.kept.revision }));
    else unread.push(m.messageId);
  }
  if (unread.length > 0) for (const [id, loaded] of await loadMessages(store, unread)) out.set(id, loaded);
  return out;
}

function foldRecorded(recorded: RecordedEvent[]): Result<LoadedMessage, CommandError> {
  let state = initialState();
  for (const r of recorded) {
    const decoded = messageEventCodec.decode(r.type, r.schemaVersion, r.data);
    if (!decoded.ok)
      return err({ code: 'CORRUPT_STREAM', message: `event ${r.eventId} (${r.type}): ${decoded.error.code}` });
    state = evolve(state, decoded.value);
  }
  return ok({ state, revision: recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.revision });
}

/**
 * Load → decide → append with the revision we decided on. When another writer got there first
 * the command is decided again on the fresh state (a few times), so racing commands stay correct.
 */
export async function handleMessageCommand(
  store: EventStore,
  messageId: string,
  input: MessageCommandInput,
  metadata: EventMetadata = {},
  maxAttempts = 5,
  /** State the caller already loaded: tried first, re-read only if another writer got in between. */
  known?: LoadedMessage,
): Promise<Result<CommandOutcome, CommandError>> {
  const parsed = MessageCommand.safeParse(input);
  if (!parsed.success)
    return err({
      code: 'INVALID_COMMAND',
      message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    });
  const command = parsed.data;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const loaded = attempt === 1 && known ? ok(known) : await loadMessage(store, messageId);
    if (!loaded.ok) return loaded;
    const decision = decide(command, loaded.value.state);
    if (!decision.ok) return decision;
    const events = decision.value;
    const state = events.reduce(evolve, loaded.value.state);
    if (events.length === 0) {
      const rev = loaded.value.revision;
      return ok({ events, state, nextExpectedRevision: typeof rev === 'number' ? rev : -1 });
    }
    const appended = await store.append(
      messageStreamId(messageId),
      events.map((e) => ({
        type: e.type,
        schemaVersion: messageEventCodec.schemaVersionOf(e.type),
        data: e.data,
        metadata,
      })),
      loaded.value.revision,
    );
    if (appended.ok) return ok({ events, state, nextExpectedRevision: appended.value.nextExpectedRevision });
    if (appended.error.code !== 'WRONG_EXPECTED_REVISION') return err(appended.error);
  }
  return err({
    code: 'CONCURRENCY_CONFLICT',
    message: `message ${messageId} kept changing under ${maxAttempts} attempts`,
  });
}
