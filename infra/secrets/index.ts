export { SecretBox, secretKeyId, ROTATION_GRACE_MS, type SecretBoxError } from './secret-box.js';
export {
  loadSecretsKey,
  loadSecretKeys,
  secretBoxFor,
  addKeyToFile,
  isSecretsKey,
  SECRETS_KEY_FILE,
  type SecretsKeySettings,
} from './secrets-key.js';
export {
  sealPlaintextSecrets,
  resealSecrets,
  sealedKeyCounts,
  openSealed,
  prepareSealedSecrets,
  type SealedColumn,
  type ResealReport,
} from './sealed-columns.js';
