export * from './events.js';
export * from './commands.js';
export * from './state.js';
export * from './decider.js';
export * from './disposition.js';
export * from './delivery-status-notification.js';
