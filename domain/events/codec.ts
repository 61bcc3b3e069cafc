import type { z } from 'zod';
import { err, ok, type Result } from '../result.js';

/**
 * Schema evolution: each event type has a current schemaVersion and upcasters from every older
 * version. Stored events are never rewritten; old versions are upcast when read.
 */
export interface EventDefinition<S extends z.ZodType = z.ZodType> {
  schema: S;
  schemaVersion: number;
  /** upcasters[v] turns version v data into version v + 1 data. */
  upcasters?: Record<number, (data: unknown) => unknown>;
}

export type DecodeError =
  | { code: 'UNKNOWN_EVENT_TYPE'; type: string }
  | { code: 'UNSUPPORTED_SCHEMA_VERSION'; type: string; schemaVersion: number }
  | { code: 'INVALID_EVENT_DATA'; type: string; message: string };

export type EventUnion<D extends Record<string, EventDefinition>> = {
  [K in keyof D & string]: { type: K; data: z.infer<D[K]['schema']> };
}[keyof D & string];

export interface EventCodec<D extends Record<string, EventDefinition>> {
  definitions: D;
  types: (keyof D & string)[];
  decode(type: string, schemaVersion: number, data: unknown): Result<EventUnion<D>, DecodeError>;
  schemaVersionOf(type: keyof D & string): number;
}

export function createEventCodec<D extends Record<string, EventDefinition>>(definitions: D): EventCodec<D> {
  return {
    definitions,
    types: Object.keys(definitions) as (keyof D & string)[],
    schemaVersionOf: (type) => definitions[type]!.schemaVersion,
    decode(type, schemaVersion, data) {
      // hasOwn: 'constructor' or '__proto__' are not event types
      const def = Object.hasOwn(definitions, type) ? definitions[type] : undefined;
      if (!def) return err({ code: 'UNKNOWN_EVENT_TYPE', type });
      let version = schemaVersion;
      let value = data;
      while (version < def.schemaVersion) {
        const up = def.upcasters?.[version];
        if (!up) return err({ code: 'UNSUPPORTED_SCHEMA_VERSION', type, schemaVersion });
        try {
          value = up(value);
        } catch (e) {
          return err({
            code: 'INVALID_EVENT_DATA',
            type,
            message: `upcasting from version ${version}: ${(e as Error).message}`,
          });
        }
        version++;
      }
      if (version !== def.schemaVersion) return err({ code: 'UNSUPPORTED_SCHEMA_VERSION', type, schemaVersion });
      const parsed = def.schema.safeParse(value);
      if (!parsed.success) {
        return err({
          code: 'INVALID_EVENT_DATA',
          type,
          message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        });
      }
      return ok({ type, data: parsed.data } as EventUnion<D>);
    },
  };
}
