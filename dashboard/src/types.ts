/** The shapes of the /v2 answers the dashboard reads (the API's OpenAPI document is the reference). */
export interface Organization {
  id: string;
  name: string;
  createdAt: string;
}
export interface Server {
  id: string;
  organizationId: string;
  name: string;
  mode: 'live' | 'development';
  suspended: boolean;
  suspendedReason: string | null;
  sendLimitPerHour: number | null;
  retentionDays: number;
  ipPool: string | null;
  trackOpens: boolean;
  trackClicks: boolean;
  trackingExcludedDomains: string[];
  listUnsubscribe: boolean;
  privacyMode: boolean;
  postmasterAddress: string | null;
  allowedSenders: string[];
  outboundSpamThreshold: number | null;
  spamThreshold: number | null;
  spamFailThreshold: number | null;
}
export interface MessageRow {
  id: string;
  serverId: string;
  from: string;
  to: string;
  subject: string;
  tag: string | null;
  status: string;
  heldReason: string | null;
  attempts: number;
  lastReply: string | null;
  acceptedAt: string;
  lastEventAt: string;
}
export interface Delivery {
  attempt: number;
  outcome: 'delivered' | 'deferred' | 'bounced';
  at?: string;
  mxHost: string | null;
  remoteIp: string | null;
  localIp: string | null;
  tls: { protocol: string; cipher: string } | null;
  /** The TLS policy the attempt went out under (null: recorded before policies were). */
  tlsPolicy: TlsPolicy | null;
  smtpCode: number | null;
  enhancedCode: string | null;
  smtpText: string | null;
  durationMs: number;
  detail: string;
}
export interface TlsPolicy {
  policy: 'none' | 'opportunistic' | 'require' | 'mta-sts';
  source: 'default' | 'destination' | 'smart-host' | 'dns';
  domain: string;
  mode?: 'enforce' | 'testing';
  policyId?: string;
  failure?: { type: string; detail: string };
  requireTls?: boolean;
  tlsOptional?: boolean;
}
/** What an incoming message (mail for a route) has besides the fields every message has. */
export interface IncomingView {
  routeId: string;
  /** A bounce kept at the return path: the outgoing message it reports (it has no route). */
  bounceOf: string | null;
  mailFrom: string;
  clientIp: string;
  helo: string;
  tls: boolean;
  authentication: { spf: string; dkim: string; dmarc: string; arc: string; header: string } | null;
  scan: { spamStatus: string; spamScore?: number; virus?: string; failures?: string[] } | null;
  endpoints: {
    endpointId: string;
    kind: string;
    target: string;
    status: 'pending' | 'delivered' | 'failed';
    attempts: number;
    lastCode: number | null;
    lastResponse: string | null;
    lastAttemptAt: string | null;
  }[];
}
export interface MessageView extends MessageRow {
  direction?: 'outgoing' | 'incoming';
  incoming?: IncomingView | null;
  rfcMessageId: string;
  size: number;
  timestamps: Record<string, string>;
  deliveries: Delivery[];
  opens: { at: string; ip: string | null; userAgent: string | null; machine: boolean }[];
  clicks: { at: string; url: string; ip: string | null; machine: boolean }[];
}
export interface HistoryEvent {
  eventId: string;
  revision: number;
  position: number;
  recordedAt: string;
  type: string;
  data: unknown;
  metadata: Record<string, unknown>;
}
export interface QueueDestination {
  domain: string;
  queued: number;
  retrying: number;
  held: number;
  sending: number;
  oldest_due: string | null;
}
export interface DnsRecord {
  purpose: string;
  type: string;
  name: string;
  value: string;
  required: boolean;
  note: string;
}
export interface Domain {
  id: string;
  serverId: string;
  name: string;
  verified: boolean;
  verifiedAt: string | null;
  dnsRecords: DnsRecord[];
  /** The last periodic DNS check; null until a verified domain had one. */
  dnsCheck?: { status: 'ok' | 'failing'; checkedAt: string } | null;
}
/** A sending domain's host for tracking links (Postal's track domain), a CNAME to Postlog's tracking host. */
export interface TrackDomain {
  id: string;
  domainId: string;
  serverId: string;
  name: string;
  https: boolean;
  verified: boolean;
  verifiedAt: string | null;
  dnsCheckedAt: string | null;
  baseUrl: string;
  dnsRecord: { type: 'CNAME'; name: string; value: string };
}
export interface TrackDomainCheck {
  verified: boolean;
  check: { name: string; expected: string; found: string[]; ok: boolean };
  trackDomain: TrackDomain;
}
export interface DomainCheck {
  verified: boolean;
  checks: { purpose: string; name: string; expected: string; found: string[]; ok: boolean }[];
  domain: Domain;
}
export interface Suppression {
  address: string;
  reason: string;
  createdAt: string;
  expiresAt: string | null;
}
export interface Credential {
  id: string;
  serverId: string;
  kind: 'api' | 'smtp' | 'smtp-ip' | 'ses';
  name: string;
  /** api: the key's first characters; smtp: the username; smtp-ip: the range. */
  identifier: string;
  createdAt: string;
  lastUsedAt: string | null;
  revoked: boolean;
}
export interface WebhookEndpoint {
  id: string;
  serverId: string;
  url: string;
  description: string;
  events: string[] | null;
  enabled: boolean;
  format: string;
  /** sendgrid format: the verification key of its signatures (base64 DER). */
  publicKey: string | null;
  circuit: { state: 'closed' | 'open' | 'half-open'; consecutiveFailures: number; pausedUntil: string | null };
  createdAt: string;
}
export interface WebhookDelivery {
  id: string;
  event: string;
  messageId: string | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: { attempt: number; at: string; statusCode: number | null; error: string | null }[];
  lastStatusCode: number | null;
  lastError: string | null;
  eventAt: string;
  nextAttemptAt: string | null;
}
export type RouteMode = 'endpoint' | 'accept' | 'hold' | 'bounce' | 'reject';
export type SpamMode = 'mark' | 'quarantine' | 'fail';
export interface RouteEndpoint {
  id: string;
  kind: 'http' | 'smtp' | 'address';
  target: string;
  format: 'json' | 'form' | 'raw';
  includeAttachments: boolean;
  stripReplies: boolean;
  timeoutSeconds: number;
}
export interface InboundRoute {
  id: string;
  serverId: string;
  address: string;
  mode: RouteMode;
  spamMode: SpamMode;
  endpoints: RouteEndpoint[];
  createdAt: string;
}
export interface RouteDelivery {
  messageId: number;
  endpointId: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastResponse: string | null;
  lastAttemptAt: string | null;
}
export interface User {
  id: string;
  email: string;
  globalAdmin: boolean;
  totpEnabled: boolean;
  disabled: boolean;
  memberships: { organizationId: string; organizationName: string; role: 'admin' | 'member' | 'viewer' }[];
  createdAt: string;
}
export interface MessageTemplate {
  id: string;
  serverId: string;
  alias: string;
  name: string;
  currentVersion: number;
  createdAt: string;
  updatedAt: string;
}
export interface TemplateVersion {
  templateId: string;
  version: number;
  subject: string;
  html: string | null;
  text: string | null;
  createdBy: string;
  createdAt: string;
}
export interface IpPool {
  name: string;
  addresses: { address: string; ehlo: string | null; weight: number }[];
  servers: { id: string; name: string; organizationId: string }[];
}
/** A management API token as listed: its first characters, never the token. */
export interface AdminToken {
  id: string;
  organizationId: string | null;
  name: string;
  tokenPrefix: string;
  createdAt: string;
  revoked: boolean;
}
