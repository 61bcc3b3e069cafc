import type { RecipientOptions } from '../../domain/index.js';
import type { Authenticator } from '../../infra/http/auth.js';
import type { AcceptDeps } from './accept-messages.js';

export interface SendApiDeps extends AcceptDeps {
  auth: Authenticator;
  /** Our host name: Message-IDs and Received headers. */
  hostname: string;
  /** Largest raw message accepted, in bytes. */
  maxMessageBytes: number;
  /** Postlog's public HTTP address (POSTLOG_PUBLIC_URL), for tracking links when a server has no tracking domain. */
  publicUrl: () => string | undefined;
  /** How recipients are read (address literals only where the operator allows them). */
  recipients: RecipientOptions;
}
