export { DELIVERY_QUEUE } from './schema.js';
export type { KeptState } from './kept-state.js';
export { leaseDeliveries, releaseDelivery, renewLeases, type LeasedMessage } from './leases.js';
export {
  emptyQueue,
  removeQueueRows,
  insertQueueRows,
  changeQueueRows,
  type NewQueueRow,
  type QueueRowChange,
} from './projection-writes.js';
export { isBeingDelivered, messagesForBulkAction, type BulkSelection } from './operator-actions.js';
export { destinationsOf, depthByDestination, type QueueDestination } from './destinations.js';
export { queuedMessageNeeds } from './content-references.js';
