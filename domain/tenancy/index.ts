export * from './schemas.js';
export * from './dns-records.js';
