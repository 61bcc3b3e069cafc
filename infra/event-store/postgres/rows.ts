import type { EventMetadata, RecordedEvent } from '../port.js';
import { encodeCheckpoint } from './checkpoint.js';

export interface EventRow {
  position: number;
  txid: string;
  event_id: string;
  stream_id: string;
  revision: number;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: EventMetadata;
  recorded_at: Date;
}

/** The text form of the transaction id is aliased "txid": an alias "transaction_id" would make ORDER BY sort it as text. */
export const EVENT_COLUMNS =
  'position, transaction_id::text AS txid, event_id, stream_id, revision, type, schema_version, data, metadata, recorded_at';

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    type: row.type,
    streamId: row.stream_id,
    revision: row.revision,
    position: row.position,
    checkpoint: encodeCheckpoint(row.txid, row.position),
    recordedAt: row.recorded_at,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
  };
}
