export * from './result.js';
export * from './events/codec.js';
export * from './message/index.js';
export * from './values/index.js';
export * from './tenancy/index.js';
export * from './accounts/index.js';
export * from './policies/index.js';
export * from './webhooks/index.js';
