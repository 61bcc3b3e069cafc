export { MessageIdAllocator } from './message-ids.js';
export { SuppressionList } from './suppression-list.js';
export { IdempotencyKeys, type IdempotencyBegin } from './idempotency.js';
export { SendLimits, type Admission } from './send-limits.js';
