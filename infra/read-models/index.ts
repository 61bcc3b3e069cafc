export { ANALYTICS_EVENTS, ANALYTICS_MESSAGES } from './analytics-schema.js';
export { RM_DAILY_STATS, RM_DELIVERIES, RM_MESSAGE_STATUS, RM_MESSAGES } from './messages-schema.js';
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
  upsertMessageStatusRows,
  type DeliveryRow,
  type MessageRow,
  type Stat,
} from './message-writes.js';
export {
  dailyStats,
  searchMessages,
  searchMessagesQuery,
  type DailyStatsRow,
  type ListedMessage,
  type MessageSearch,
} from './message-list.js';
export { expirableMessages, readModelMessageNeeds, type ExpirableMessage } from './retention-queries.js';
export {
  insertAnalyticsEvents,
  readMessageDimensions,
  upsertMessageDimensions,
  type AnalyticsEventRow,
  type MessageDimensionsRow,
} from './analytics-writes.js';
export {
  breakdownAggregates,
  funnelAggregate,
  messageEngagementRows,
  timeSeriesAggregates,
  topLinkCounts,
  type AggregateColumn,
  type AnalyticsAggregateRow,
  type Breakdown,
  type EngagementRow,
  type EventSelection,
  type MessageEngagementRow,
  type ReportBucket,
} from './analytics-reports.js';
