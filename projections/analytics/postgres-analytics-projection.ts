import {
  ANALYTICS_EVENTS,
  ANALYTICS_MESSAGES,
  emptyTables,
  insertAnalyticsEvents,
  readMessageDimensions,
  upsertMessageDimensions,
} from '../../infra/read-models/index.js';
import type { PostgresProjection } from '../runner.js';
import {
  ANALYTICS_EVENT_TYPES,
  analyticsRowOf,
  decodeMessageEvent,
  messageIdOfStream,
  type AnalyticsRow,
  type MessageDimensions,
} from './analytics-row.js';

/**
 * The embedded analytics store: one row per reported event, and the message dimensions it needs
 * for the events after MessageAccepted (infra/read-models/analytics-schema.ts), both written in
 * the transaction that moves the checkpoint: exactly once. ClickHouse replaces it when configured;
 * the reports read it through read-api/analytics/postgres-reports.ts.
 */
export const analyticsProjection: PostgresProjection = {
  name: 'analytics',
  version: 1,
  // only the events that give rows or change a message's dimensions
  filter: { streamPrefixes: ['message-'], types: [...ANALYTICS_EVENT_TYPES] },
  tables: [ANALYTICS_EVENTS, ANALYTICS_MESSAGES],
  async reset(client, t) {
    await emptyTables(client, this.tables.map(t));
  },
  async apply(client, events, t) {
    const ids = [...new Set(events.map((e) => messageIdOfStream(e.streamId)))];
    const known = await readMessageDimensions(client, t(ANALYTICS_MESSAGES), ids);
    const dims = new Map<string, MessageDimensions>(known.map(({ message_id, ...d }) => [message_id, d]));
    const changed = new Set<string>();
    const rows: AnalyticsRow[] = [];
    for (const r of events) {
      const id = messageIdOfStream(r.streamId);
      const before = dims.get(id);
      const { dimensions, row } = analyticsRowOf(r, decodeMessageEvent(r), before);
      if (dimensions && dimensions !== before) {
        dims.set(id, dimensions);
        changed.add(id);
      }
      if (row) rows.push(row);
    }
    await insertAnalyticsEvents(client, t(ANALYTICS_EVENTS), rows);
    await upsertMessageDimensions(
      client,
      t(ANALYTICS_MESSAGES),
      [...changed].map((id) => ({ id, d: dims.get(id)! })),
    );
  },
};
