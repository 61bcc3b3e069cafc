import type { RecipientOptions } from '../../domain/index.js';
import { isPrivateAddress } from '../../infra/http/outbound.js';

/**
 * How recipients are read, from the operator's choice for address literals: refused, taken for
 * public IPs only (a tenant cannot aim mail at hosts inside the network that trust Postlog's
 * address), or taken for any IP (testing).
 */
export function recipientRules(addressLiterals: 'refuse' | 'public' | 'any'): RecipientOptions {
  if (addressLiterals === 'refuse') return {};
  if (addressLiterals === 'any') return { allowLiteral: () => true };
  return { allowLiteral: (ip) => !isPrivateAddress(ip) };
}
