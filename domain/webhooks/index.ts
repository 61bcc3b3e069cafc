export * from './webhook-events.js';
export * from './postal-payloads.js';
export * from './tenancy-payloads.js';
export * from './blocklist-payloads.js';
export * from './incoming-payloads.js';
export * from './formats/index.js';
