import { z } from 'zod';
import { messageEventCodec } from '../../domain/index.js';
import { EventMetadata, type RecordedEvent } from '../../infra/event-store/index.js';

/**
 * The format of one event on the Kafka topic: what downstream consumers rely on (the README
 * documents it and schemas/events holds its JSON Schema). Changing it is a breaking change.
 */
export const KafkaEventValue = z.object({
  /** UUIDv7, unique per event: consumers drop duplicates by it (delivery is at-least-once). */
  eventId: z.uuid(),
  type: z.string().min(1),
  /** "message-<messageId>" for message events. */
  streamId: z.string().min(1),
  /** 0-based position within the stream: per message, consecutive. */
  revision: z.number().int().min(0),
  /** Global position in Postlog's log: increases along the log (not consecutive). */
  position: z.number().int().min(0),
  recordedAt: z.iso.datetime({ offset: true }),
  /** The version of `data`'s schema (schemas/events/<type>.v<schemaVersion>.schema.json). */
  schemaVersion: z.number().int().min(1),
  data: z.unknown(),
  metadata: EventMetadata,
});
export type KafkaEventValue = z.infer<typeof KafkaEventValue>;

/**
 * Record header names (values are UTF-8 strings): what a consumer needs to route and dedupe a
 * record without parsing its value. The rest is in the value only: every header costs encoding
 * time and bytes on every record.
 */
export const kafkaHeaders = {
  eventId: 'postlog-event-id',
  type: 'postlog-event-type',
  schemaVersion: 'postlog-schema-version',
} as const;

const messagePrefix = 'message-';

/** The record key: the message id for message streams (all of a message's events land on one partition, in order), else the stream id. */
export function kafkaKeyOf(streamId: string): string {
  return streamId.startsWith(messagePrefix) ? streamId.slice(messagePrefix.length) : streamId;
}

export interface KafkaRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

/**
 * Message events are published in their current schema version: events stored in an older one are
 * upcast (as every reader of the log does), so one JSON Schema per type describes the topic.
 */
function currentVersionOf(event: RecordedEvent): { schemaVersion: number; data: unknown } {
  if (!Object.hasOwn(messageEventCodec.definitions, event.type)) return event;
  const current = messageEventCodec.schemaVersionOf(event.type as keyof typeof messageEventCodec.definitions);
  if (event.schemaVersion >= current) return event;
  const decoded = messageEventCodec.decode(event.type, event.schemaVersion, event.data);
  // an event the codec cannot upcast stops the stream (the runner records the error) rather than be skipped
  if (!decoded.ok)
    throw new Error(
      `event ${event.eventId} (${event.type} v${event.schemaVersion}) cannot be upcast for Kafka: ${decoded.error.code}`,
    );
  return { schemaVersion: current, data: decoded.value.data };
}

export function toKafkaRecord(event: RecordedEvent): KafkaRecord {
  const { schemaVersion, data } = currentVersionOf(event);
  const value: KafkaEventValue = {
    eventId: event.eventId,
    type: event.type,
    streamId: event.streamId,
    revision: event.revision,
    position: event.position,
    recordedAt: event.recordedAt.toISOString(),
    schemaVersion,
    data,
    metadata: event.metadata,
  };
  return {
    key: kafkaKeyOf(event.streamId),
    value: JSON.stringify(value),
    headers: {
      [kafkaHeaders.eventId]: event.eventId,
      [kafkaHeaders.type]: event.type,
      [kafkaHeaders.schemaVersion]: String(schemaVersion),
    },
  };
}
