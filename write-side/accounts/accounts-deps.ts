import type { Logger } from '../../infra/logging/index.js';
import type { SessionStore, UserStore, UserTokenStore } from '../../infra/accounts/index.js';
import type { AuthThrottle } from '../smtp/auth-throttle.js';
import type { AccountMailer } from './account-mail.js';

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
  /** Where browsers reach Postlog (POSTLOG_PUBLIC_URL, else the HTTP listener): links in mail point there. */
  linkBase: string;
  /** Sends reset links and invitations by email; undefined when POSTLOG_ACCOUNT_MAIL_FROM is not set. */
  mailer: AccountMailer | undefined;
}
