export {
  addReputationCounts,
  emptyReputationTables,
  REPUTATION_COUNTS,
  REPUTATION_SENDERS,
  reputationCountsOf,
  reputationScopesSince,
  reputationSendersOf,
  saveReputationSenders,
  type ReputationCountRow,
  type ReputationScopeCounts,
  type ReputationScopeQuery,
  type ReputationSender,
} from './reputation-counts.js';
