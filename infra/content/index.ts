export { ContentStore, contentHash } from './content-store.js';
