export { createResolver } from './resolver.js';
