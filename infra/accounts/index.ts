export * from './passwords.js';
export * from './schema.js';
export * from './sessions.js';
export * from './totp.js';
export * from './user-tokens.js';
export * from './users.js';
export * from './session-actors.js';
export * from './oidc.js';
export { accountsSealedColumns } from './sealed-secrets.js';
