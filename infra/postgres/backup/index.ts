export { BackupHeader, BackupUnreadable } from './backup-file.js';
export { NotAPostlogDatabase, takeBackup, type BackupProgress, type BackupSummary } from './take-backup.js';
export {
  BackupTooNew,
  checkRestorable,
  inspectBackup,
  readBackupHeader,
  restoreBackup,
  RestoreTargetNotEmpty,
  type RestoreSummary,
} from './restore-backup.js';
