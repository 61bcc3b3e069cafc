export { MemoryEventStore, type MemoryEventStoreOptions } from './memory-event-store.js';
export { MemoryEventLog, type MemoryEventLogOptions } from './memory-log.js';
