export { fetchStsPolicy, POLICY_MAX_BYTES, POLICY_TIMEOUT_MS, type PolicyFetch } from './policy-fetcher.js';
export { trustedCas } from './trusted-cas.js';
