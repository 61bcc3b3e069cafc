import type { Config } from '../infra/config/index.js';
import type { BlocklistSettings } from '../write-side/deliverability/blocklist-checks.js';

/** What blocklist monitoring checks, from the configuration (the projector role and `postlog dnsbl check`). */
export const blocklistSettings = (config: Config): BlocklistSettings => ({
  ipZones: config.dnsblZones,
  domainZones: config.dnsblDomainZones,
  ipPools: config.ipPools,
});
