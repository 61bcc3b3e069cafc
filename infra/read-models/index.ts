export { RM_DAILY_STATS, RM_DELIVERIES, RM_MESSAGES } from './messages-schema.js';
export { emptyTables } from './empty-tables.js';
export {
  checkpointRows,
  lockCheckpoint,
  lockCheckpointAndVersion,
  moveCheckpoint,
  readCheckpoint,
  recordProjectionError,
  restartCheckpoint,
  saveRebuiltCheckpoint,
  type CheckpointRow,
} from './checkpoints.js';
export {
  addDailyStats,
  readMessageRows,
  STAT_COLUMNS,
  upsertDeliveryRows,
  upsertMessageRows,
  type DeliveryRow,
  type MessageRow,
  type Stat,
} from './message-writes.js';
export {
  dailyStats,
  searchMessages,
  type DailyStatsRow,
  type ListedMessage,
  type MessageSearch,
} from './message-list.js';
export { expirableMessages, readModelMessageNeeds, type ExpirableMessage } from './retention-queries.js';
