export {
  BLOCKLIST_STATUS,
  blocklistStatuses,
  emptyBlocklistStatus,
  putBlocklistStatus,
  type BlocklistStatus,
} from './blocklist-status.js';
