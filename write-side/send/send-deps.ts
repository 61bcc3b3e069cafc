import type { Authenticator } from '../../infra/http/auth.js';
import type { AcceptDeps } from './accept-messages.js';

export interface SendApiDeps extends AcceptDeps {
  auth: Authenticator;
  /** Our host name: Message-IDs and Received headers. */
  hostname: string;
  /** Largest raw message accepted, in bytes. */
  maxMessageBytes: number;
}
