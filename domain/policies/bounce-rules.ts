/**
 * The bounce classification rule table. Read top to bottom; the first matching rule wins.
 * `status` matches the RFC 3463 enhanced status code (e.g. "5.1.1"), `text` the reply or
 * diagnostic text. `suppress`: whether the recipient should be put on the suppression list
 * (only when the mailbox itself is the problem — never for policy or reputation blocks).
 *
 * To add a rule, add a line (with an id, and a case with a real reply in its test). Keep specific rules
 * above general ones.
 */
export type BounceCategory =
  | 'bad-mailbox'
  | 'mailbox-full'
  | 'policy'
  | 'spam-block'
  | 'auth-failure'
  | 'dns'
  | 'routing'
  | 'content'
  | 'other';

export interface BounceRule {
  /** Names the rule in tests and reviews (test/core/bounce-rules.test.ts has a case for each). */
  id: string;
  status?: RegExp;
  text?: RegExp;
  category: BounceCategory;
  suppress: boolean;
}

// prettier-ignore
export const BOUNCE_RULES: readonly BounceRule[] = [
  // ---- text that is more precise than the status code it comes with -------------------------
  {
    id: 'text-blocklist',
    text: /spamhaus|barracuda|spamcop|blacklist|blocklist|block ?list|listed (at|on|in)|\brbl\b|dnsbl/i,
    category: 'spam-block',
    suppress: false,
  },
  {
    id: 'text-spam',
    text: /\bspam\b|junk mail|unsolicited|bulk mail|reputation|content rejected as spam/i,
    category: 'spam-block',
    suppress: false,
  },
  {
    id: 'text-authentication',
    text: /dmarc|\bspf\b|\bdkim\b|not authenticated|authentication (failed|required)|unauthenticated/i,
    category: 'auth-failure',
    suppress: false,
  },
  {
    id: 'text-mailbox-full',
    text: /over ?quota|quota exceeded|mailbox (is )?full|insufficient (system )?storage|mailbox size limit/i,
    category: 'mailbox-full',
    suppress: false,
  },
  {
    id: 'text-bad-mailbox',
    text: /user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|doesn't exist|unknown recipient|invalid recipient|recipient (address )?rejected|mailbox (unavailable|not found|disabled)|address rejected|undeliverable address|account (has been )?disabled/i,
    category: 'bad-mailbox',
    suppress: true,
  },
  {
    id: 'text-relay-denied',
    text: /relay(ing)? (access )?(denied|not permitted)|not allowed to relay/i,
    category: 'policy',
    suppress: false,
  },
  {
    id: 'text-message-size',
    text: /message (size|too (big|large))|exceeds (the )?(maximum )?size/i,
    category: 'content',
    suppress: false,
  },
  {
    id: 'text-domain-not-found',
    text: /host (or domain name )?not found|no mx|null mx|domain (does not exist|not found)|nxdomain/i,
    category: 'dns',
    suppress: false,
  },

  // ---- RFC 3463 enhanced status codes ------------------------------------------------------
  // null MX (RFC 7505)
  { id: 'status-null-mx', status: /^5\.1\.10$/, category: 'dns', suppress: false },
  // bad mailbox / syntax / moved
  { id: 'status-bad-mailbox-address', status: /^5\.1\.[136]$/, category: 'bad-mailbox', suppress: true },
  // bad destination system
  { id: 'status-bad-destination-system', status: /^5\.1\.2$/, category: 'dns', suppress: false },
  { id: 'status-addressing', status: /^5\.1\.\d+$/, category: 'bad-mailbox', suppress: true },
  // mailbox disabled
  { id: 'status-mailbox-disabled', status: /^5\.2\.1$/, category: 'bad-mailbox', suppress: true },
  { id: 'status-mailbox-full', status: /^[45]\.2\.2$/, category: 'mailbox-full', suppress: false },
  // message too big
  { id: 'status-message-too-big', status: /^[45]\.(2\.3|3\.4)$/, category: 'content', suppress: false },
  { id: 'status-routing', status: /^[45]\.4\.[0-7]$/, category: 'routing', suppress: false },
  { id: 'status-media', status: /^5\.6\.\d+$/, category: 'content', suppress: false },
  // SPF/DKIM/DMARC results
  {
    id: 'status-sender-authentication',
    status: /^5\.7\.(2[3-7]|1[5-9]|2[0-2])$/,
    category: 'auth-failure',
    suppress: false,
  },
  // a policy block is never the mailbox's fault
  { id: 'status-policy', status: /^5\.7\.\d+$/, category: 'policy', suppress: false },
  { id: 'status-mail-system', status: /^5\.3\.\d+$/, category: 'routing', suppress: false },
];
