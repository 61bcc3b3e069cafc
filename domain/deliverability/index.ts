export * from './blocklists.js';
