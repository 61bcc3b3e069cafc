export * from './result.js';
export * from './events/codec.js';
export * from './message/index.js';
