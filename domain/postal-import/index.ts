export * from './postal-rows.js';
export * from './import-plan.js';
export * from './message-plan.js';
