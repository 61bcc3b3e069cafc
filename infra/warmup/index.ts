export { WarmupStore, type WarmupRecord } from './warmup-store.js';
