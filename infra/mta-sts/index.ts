export { fetchStsPolicy, POLICY_MAX_BYTES, POLICY_TIMEOUT_MS, type PolicyFetch } from './policy-fetcher.js';
export { STORED_POLICIES_READ, StsPolicyStore, type StoredStsPolicy } from './policy-store.js';
export { trustedCas } from './trusted-cas.js';
