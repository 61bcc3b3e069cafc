export { createResolver } from './resolver.js';
export { resolverLookup } from './resolver-lookup.js';
