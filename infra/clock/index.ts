export { systemClock, type Clock } from './clock.js';
export { AdjustableClock } from './adjustable-clock.js';
