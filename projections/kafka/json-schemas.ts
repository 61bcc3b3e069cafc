import { z } from 'zod';
import { incomingEventCodec, messageEventCodec } from '../../domain/index.js';
import { KafkaEventValue } from './event-message.js';

/**
 * JSON Schemas of the Kafka records' values, generated from the zod schemas the code uses, for
 * consumers in any language: one file per event type and schema version (the whole record value,
 * with that type's `data`), the envelope alone (any type), and an index. They are committed under
 * schemas/events (`postlog schemas --out schemas/events`); a test keeps them equal to the code.
 *
 * `data` is described as the producer may write it (zod's input side): fields with a default may be
 * absent in events recorded before the field existed.
 */
export function eventJsonSchemas(): Map<string, unknown> {
  const files = new Map<string, unknown>();
  const index: Record<string, { schemaVersion: number; file: string }> = {};
  const toJson = (schema: z.ZodType) =>
    z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'throw' });
  files.set(
    'envelope.schema.json',
    toJson(
      KafkaEventValue.meta({
        title: 'Postlog event',
        description:
          'The value of every record Postlog publishes to Kafka; `data` depends on `type` and `schemaVersion`.',
      }),
    ),
  );
  // message events, and incoming messages' (IncomingReceived, IncomingScanned, …): both are published
  const definitions: (readonly [string, { schema: z.ZodType; schemaVersion: number }])[] = [
    ...messageEventCodec.types.map((t) => [t, messageEventCodec.definitions[t]] as const),
    ...incomingEventCodec.types.map((t) => [t, incomingEventCodec.definitions[t]] as const),
  ];
  for (const [type, definition] of definitions) {
    const file = `${type}.v${definition.schemaVersion}.schema.json`;
    const record = KafkaEventValue.extend({
      type: z.literal(type),
      schemaVersion: z.literal(definition.schemaVersion),
      data: definition.schema,
    }).meta({
      title: `Postlog event ${type} v${definition.schemaVersion}`,
      description: `The value of a Kafka record whose postlog-event-type header is ${type}.`,
    });
    files.set(file, toJson(record));
    index[type] = { schemaVersion: definition.schemaVersion, file };
  }
  files.set('index.json', {
    description: 'Postlog event types published to Kafka: current schema version and JSON Schema file of each.',
    envelope: 'envelope.schema.json',
    types: index,
  });
  return files;
}

/** The committed text of each file: stable formatting, so a diff shows real changes only. */
export function eventJsonSchemaFiles(): Map<string, string> {
  return new Map([...eventJsonSchemas()].map(([name, schema]) => [name, `${JSON.stringify(schema, null, 2)}\n`]));
}
