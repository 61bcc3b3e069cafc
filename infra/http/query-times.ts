import { z } from 'zod';

/** 0001-01-01T00:00:00Z: PostgreSQL has no year 0 (ISO 8601's 0000 is 1 BC to it). */
const YEAR_ONE = Date.parse('0001-01-01T00:00:00Z');

/**
 * A time filter for PostgreSQL: ISO 8601 with an offset, year 1 or later, handed on in UTC. Any
 * offset zod accepts (up to ±23:59) is an instant JavaScript can place, while PostgreSQL refuses
 * offsets past ±15:59 and year 0 with an error: a client's mistake answered 500.
 */
export const IsoTimestamp = z.iso
  .datetime({ offset: true })
  .refine((v) => Date.parse(v) >= YEAR_ONE, 'must be in year 1 or later')
  .transform((v) => new Date(v).toISOString());

/** A calendar date for PostgreSQL: YYYY-MM-DD, year 1 or later. */
export const IsoDate = z.iso.date().refine((v) => v >= '0001-01-01', 'must be in year 1 or later');
