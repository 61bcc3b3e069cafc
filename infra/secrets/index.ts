export { SecretBox, secretKeyId, type SecretBoxError } from './secret-box.js';
export { loadSecretsKey, isSecretsKey, SECRETS_KEY_FILE } from './secrets-key.js';
