import { z } from 'zod';

/**
 * What the import reads of a Postal 3.x installation (its MariaDB: the main database and each
 * server's message database), already renamed to camelCase by the reader (infra/postal-import/).
 * Only the columns Postlog can use, or must name when it cannot carry them over.
 */

const id = z.number().int();
const flag = z.coerce.boolean();
const when = z.coerce.date().nullable();

export const PostalOrganization = z.object({
  id,
  name: z.string(),
  permalink: z.string(),
  ipPoolId: id.nullable(),
  suspendedAt: when,
  suspensionReason: z.string().nullable(),
  deletedAt: when,
});

export const PostalServer = z.object({
  id,
  organizationId: id,
  name: z.string(),
  permalink: z.string(),
  /** Postal's own six letters, used in its return paths; Postlog has no such token. */
  token: z.string().nullable(),
  /** Live or Development */
  mode: z.string(),
  sendLimit: id.nullable(),
  /** How long Postal keeps a message's row (its history); null: for ever. */
  messageRetentionDays: id.nullable(),
  /** How long Postal keeps raw bodies (Postlog's retentionDays); null: as long as the message. */
  rawMessageRetentionDays: id.nullable(),
  /** Megabytes of raw bodies Postal keeps at most; Postlog bounds bodies by days only. */
  rawMessageRetentionSize: id.nullable(),
  ipPoolId: id.nullable(),
  suspendedAt: when,
  suspensionReason: z.string().nullable(),
  deletedAt: when,
  privacyMode: flag,
  logSmtpData: flag,
  allowSender: flag,
  postmasterAddress: z.string().nullable(),
  /** Incoming mail at or above this score is spam (for the routes' spam modes). */
  spamThreshold: z.coerce.number().nullable(),
  /** Incoming mail at or above this score is refused whatever the route. */
  spamFailureThreshold: z.coerce.number().nullable(),
  /** Outgoing mail at or above this score is held as spam; null: not checked. */
  outboundSpamThreshold: z.coerce.number().nullable(),
  /** Newline-separated domains whose links are not click-tracked. */
  domainsNotToClickTrack: z.string().nullable(),
});

export const PostalDomain = z.object({
  id,
  /** Server or Organization: an organization's domain may be used by each of its servers. */
  ownerType: z.string().nullable(),
  ownerId: id.nullable(),
  serverId: id.nullable(),
  name: z.string(),
  verificationToken: z.string().nullable(),
  verificationMethod: z.string().nullable(),
  verifiedAt: when,
  /** PEM of an RSA key (1024 bits where Postal made it). */
  dkimPrivateKey: z.string().nullable(),
  /** Six letters: Postal publishes the key at `<dkim_identifier>-<these>._domainkey.<domain>`. */
  dkimIdentifierString: z.string().nullable(),
  outgoing: flag,
  incoming: flag,
});

export const PostalCredential = z.object({
  id,
  serverId: id,
  /** SMTP, API or SMTP-IP */
  type: z.string(),
  /** The API key, the SMTP password, or (SMTP-IP) an IP address or network. */
  key: z.string(),
  name: z.string(),
  hold: flag,
});

export const PostalTrackDomain = z.object({
  id,
  serverId: id,
  /** The label in front of the domain's name: `track` of track.example.com. */
  name: z.string(),
  domainName: z.string().nullable(),
  sslEnabled: flag,
  trackClicks: flag,
  trackLoads: flag,
  excludedClickDomains: z.string().nullable(),
});

export const PostalHttpEndpoint = z.object({
  id,
  name: z.string(),
  url: z.string(),
  /** BodyAsJSON or FormData */
  encoding: z.string().nullable(),
  /** Hash or RawMessage */
  format: z.string().nullable(),
  stripReplies: flag,
  includeAttachments: flag,
  /** Seconds Postal waits for an answer (5-60). */
  timeout: id.nullable(),
});

/** Another SMTP server a route hands its mail to. */
export const PostalSmtpEndpoint = z.object({
  id,
  name: z.string(),
  hostname: z.string(),
  /** None, Auto, STARTTLS or TLS */
  sslMode: z.string().nullable(),
  port: id.nullable(),
});

/** An address a route forwards its mail to. */
export const PostalAddressEndpoint = z.object({ id, address: z.string() });

/** One of the targets of a route: Postal's polymorphic endpoint (HTTPEndpoint, SMTPEndpoint, AddressEndpoint). */
export const PostalEndpointRef = z.object({ endpointType: z.string().nullable(), endpointId: id.nullable() });

export const PostalRoute = z.object({
  id,
  serverId: id,
  /** The local part, or `*` for every address of the domain. */
  name: z.string(),
  domainName: z.string().nullable(),
  /** Endpoint, Accept, Hold, Bounce or Reject */
  mode: z.string().nullable(),
  /** HTTPEndpoint, SMTPEndpoint or AddressEndpoint */
  endpointType: z.string().nullable(),
  endpointId: id.nullable(),
  spamMode: z.string().nullable(),
  /** additional_route_endpoints: more targets of an Endpoint route, each given the mail too. */
  additionalEndpoints: z.array(PostalEndpointRef),
});

export const PostalWebhook = z.object({
  id,
  serverId: id,
  name: z.string().nullable(),
  url: z.string(),
  allEvents: flag,
  enabled: flag,
  sign: flag,
  events: z.array(z.string()),
});

export const PostalIpAddress = z.object({
  ipv4: z.string().nullable(),
  ipv6: z.string().nullable(),
  hostname: z.string().nullable(),
  priority: id.nullable(),
});

export const PostalIpPool = z.object({
  id,
  name: z.string(),
  isDefault: flag,
  addresses: z.array(PostalIpAddress),
});

export const PostalIpPoolRule = z.object({
  id,
  ownerType: z.string().nullable(),
  ownerId: id.nullable(),
  ipPoolId: id.nullable(),
  fromText: z.string().nullable(),
  toText: z.string().nullable(),
});

export const PostalSuppression = z.object({
  serverId: id,
  /** recipient (Postal's only kind in practice) */
  type: z.string().nullable(),
  address: z.string(),
  reason: z.string().nullable(),
  /** Until when the entry holds. */
  keepUntil: z.coerce.date(),
});

/** Everything read from one Postal installation. */
export const PostalSnapshot = z.object({
  organizations: z.array(PostalOrganization),
  servers: z.array(PostalServer),
  domains: z.array(PostalDomain),
  credentials: z.array(PostalCredential),
  trackDomains: z.array(PostalTrackDomain),
  httpEndpoints: z.array(PostalHttpEndpoint),
  routes: z.array(PostalRoute),
  webhooks: z.array(PostalWebhook),
  ipPools: z.array(PostalIpPool),
  ipPoolRules: z.array(PostalIpPoolRule),
  suppressions: z.array(PostalSuppression),
  /** Servers whose message database could not be read (no suppressions from them), with why. */
  unreadMessageDatabases: z.array(z.object({ serverId: id, reason: z.string() })),
  /** Postal's dashboard users: counted, not carried over. */
  users: z.number().int(),
  /** SMTP endpoints (route targets). */
  smtpEndpoints: z.array(PostalSmtpEndpoint),
  /** Address endpoints (route targets). */
  addressEndpoints: z.array(PostalAddressEndpoint),
});

export type PostalOrganization = z.infer<typeof PostalOrganization>;
export type PostalServer = z.infer<typeof PostalServer>;
export type PostalDomain = z.infer<typeof PostalDomain>;
export type PostalCredential = z.infer<typeof PostalCredential>;
export type PostalTrackDomain = z.infer<typeof PostalTrackDomain>;
export type PostalHttpEndpoint = z.infer<typeof PostalHttpEndpoint>;
export type PostalSmtpEndpoint = z.infer<typeof PostalSmtpEndpoint>;
export type PostalAddressEndpoint = z.infer<typeof PostalAddressEndpoint>;
export type PostalEndpointRef = z.infer<typeof PostalEndpointRef>;
export type PostalRoute = z.infer<typeof PostalRoute>;
export type PostalWebhook = z.infer<typeof PostalWebhook>;
export type PostalIpPool = z.infer<typeof PostalIpPool>;
export type PostalIpPoolRule = z.infer<typeof PostalIpPoolRule>;
export type PostalSuppression = z.infer<typeof PostalSuppression>;
export type PostalSnapshot = z.infer<typeof PostalSnapshot>;

/** One delivery row of a Postal message (its deliveries table); times are seconds since 1970. */
export const PostalDelivery = z.object({
  status: z.string().nullable(),
  code: z.coerce.number().int().nullable(),
  output: z.string().nullable(),
  details: z.string().nullable(),
  sentWithSsl: flag,
  /** Seconds the attempt took. */
  time: z.coerce.number().nullable(),
  timestamp: z.coerce.number(),
});

/**
 * A message of a Postal server's message database (`<prefix>-server-<id>`.messages) with its
 * deliveries and the number of its loads (opens) and clicks. Times are seconds since 1970.
 */
export const PostalMessage = z.object({
  id,
  serverId: id,
  /** outgoing or incoming */
  scope: z.string().nullable(),
  rcptTo: z.string().nullable(),
  mailFrom: z.string().nullable(),
  subject: z.string().nullable(),
  /** The Message-ID header value. */
  messageId: z.string().nullable(),
  token: z.string().nullable(),
  timestamp: z.coerce.number(),
  /** Pending, Sent, SoftFail, HardFail, Bounced, Held, HoldCancelled, Processed, Error */
  status: z.string().nullable(),
  held: flag,
  size: z.coerce.number().nullable(),
  tag: z.string().nullable(),
  spamScore: z.coerce.number().nullable(),
  /** Whether Postal still holds the raw message (its raw table was not removed by its retention). */
  hasRaw: flag,
  deliveries: z.array(PostalDelivery),
  loads: z.number().int(),
  clicks: z.number().int(),
});

export type PostalDelivery = z.infer<typeof PostalDelivery>;
export type PostalMessage = z.infer<typeof PostalMessage>;
