export * from './port.js';
export { PostgresEventStore, type PostgresEventStoreOptions } from './postgres/postgres-event-store.js';
export { compareCheckpoints, decodeCheckpoint } from './postgres/checkpoint.js';
export { headPosition, oldestWaitingSeconds, waitingMatching } from './postgres/log-lag.js';
export {
  MemoryEventLog,
  MemoryEventStore,
  type MemoryEventLogOptions,
  type MemoryEventStoreOptions,
} from './memory/index.js';
