export * from './tenancy-store.js';
export { generateDkimKey, type DkimKeyPair } from './dkim-keys.js';
export { sha256, randomToken } from './secrets.js';
