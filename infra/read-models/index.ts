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
