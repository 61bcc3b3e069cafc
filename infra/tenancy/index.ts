export { TenancyStore } from './tenancy-store.js';
export type { DnsSettings } from './domains.js';
export { generateDkimKey, type DkimKeyPair } from './dkim-keys.js';
export { sha256, randomToken } from './secrets.js';
export { retentionPeriods } from './retention-periods.js';
export { loadServerFacts } from './server-facts.js';
export type { SesAccessKey } from './authentication.js';
export { tenancySealedColumns } from './sealed-secrets.js';
