import { incomingEventCodec, INCOMING_STREAM_PREFIX } from '../../domain/index.js';
import {
  emptyEndpointQueue,
  ENDPOINT_DELIVERIES,
  writeEndpointRows,
  type EndpointRowChange,
} from '../../infra/routes/index.js';
import type { PostgresProjection } from '../runner.js';

/**
 * The queue of incoming messages handed to route endpoints, as a projection of the log: a row per
 * (message, endpoint) from IncomingRouted, moved by each EndpointAttempted (due again at its retry
 * time, or settled) and set due again by EndpointRetryRequested. A batch is folded in memory to the
 * last state of each row it touches and written with one statement (infra/routes/endpoint-queue.ts).
 */
export const endpointQueueProjection: PostgresProjection = {
  name: 'endpoint-queue',
  version: 1,
  filter: { streamPrefixes: [INCOMING_STREAM_PREFIX] },
  tables: [ENDPOINT_DELIVERIES],
  // leases belong to the dispatchers, not to the log
  volatileColumns: { [ENDPOINT_DELIVERIES]: ['lease_until'] },
  keys: { [ENDPOINT_DELIVERIES]: 'message_id, endpoint_id' },
  async reset(client, t) {
    await emptyEndpointQueue(client, t(ENDPOINT_DELIVERIES));
  },
  async apply(client, events, t) {
    const rows = new Map<string, EndpointRowChange>();
    const touch = (messageId: number, endpointId: string, change: Omit<EndpointRowChange, 'addAttempts'>) => {
      const key = `${messageId}|${endpointId}`;
      const before = rows.get(key);
      rows.set(key, {
        ...before,
        ...change,
        addAttempts: before?.addAttempts ?? 0,
      });
      return rows.get(key)!;
    };
    for (const r of events) {
      const decoded = incomingEventCodec.decode(r.type, r.schemaVersion, r.data);
      if (!decoded.ok) throw new Error(`event ${r.eventId} (${r.type}) cannot be read: ${decoded.error.code}`);
      const e = decoded.value;
      const messageId = Number(r.streamId.slice(INCOMING_STREAM_PREFIX.length));
      switch (e.type) {
        case 'IncomingRouted':
          for (const endpoint of e.data.endpoints) {
            const row = touch(messageId, endpoint.endpointId, {
              messageId,
              endpointId: endpoint.endpointId,
              routeId: e.data.routeId,
              contentHash: e.data.contentHash,
              status: 'pending',
              dueAt: e.data.at,
            });
            // routed again (released after a hold): a fresh row's attempts count from here
            row.addAttempts = 0;
          }
          break;
        case 'EndpointAttempted': {
          const row = touch(messageId, e.data.endpointId, {
            messageId,
            endpointId: e.data.endpointId,
            status: e.data.outcome === 'retry' ? 'pending' : e.data.outcome,
            dueAt: e.data.retryAt ?? e.data.at,
            lastCode: e.data.code ?? null,
            lastResponse: e.data.response,
            lastAttemptAt: e.data.at,
          });
          row.addAttempts++;
          break;
        }
        case 'EndpointRetryRequested':
          for (const endpointId of e.data.endpointIds)
            touch(messageId, endpointId, { messageId, endpointId, status: 'pending', dueAt: e.data.at });
          break;
        default:
          break;
      }
    }
    await writeEndpointRows(client, t(ENDPOINT_DELIVERIES), [...rows.values()]);
  },
};
