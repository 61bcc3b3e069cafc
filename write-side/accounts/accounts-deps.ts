import type { Logger } from '../../infra/logging/index.js';
import type { SessionStore, UserStore, UserTokenStore } from '../../infra/accounts/index.js';
import type { AuthThrottle } from '../smtp/auth-throttle.js';

export interface AccountsDeps {
  users: UserStore;
  sessions: SessionStore;
  tokens: UserTokenStore;
  /** Failed logins per client address, and per account (email). */
  loginThrottle: { address: AuthThrottle; account: AuthThrottle };
  /** Cookies get `Secure` when browsers reach Postlog over HTTPS. */
  secureCookies: boolean;
  now: () => Date;
  logger: Logger;
  /** How long invitation and password-reset links stay valid. */
  linkHours: number;
  /** Where browsers reach Postlog: links in invitations and resets point there. */
  publicUrl: string | undefined;
}
