export { ContentStore, contentHash } from './content-store.js';
export {
  addReleaseCandidates,
  forgetDeletedCandidates,
  lockDueReleaseCandidates,
  postponeCandidates,
} from './release-candidates.js';
export { bodiesAfter, deleteUnneeded, lockSweepMark, saveSweepMark, type SweepMark } from './content-retention.js';
