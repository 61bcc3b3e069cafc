export { decodeResponse, encodeQuery, RCODE, type DnsRecord, type DnsResponse, type QueryType } from './dns-wire.js';
export { isNoRecord } from './no-record.js';
export { createResolver } from './resolver.js';
export { resolverLookup } from './resolver-lookup.js';
export { createValidatingResolver, type ValidatingResolver } from './validating-resolver.js';
