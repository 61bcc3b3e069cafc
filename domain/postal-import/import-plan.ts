import { PostmasterAddress } from '../tenancy/postmaster-address.js';
import { parseCidr } from '../values/cidr.js';
import { postalWebhookEvents } from '../webhooks/webhook-events.js';
import type {
  PostalCredential,
  PostalDomain,
  PostalIpPool,
  PostalOrganization,
  PostalServer,
  PostalSnapshot,
  PostalTrackDomain,
  PostalWebhook,
} from './postal-rows.js';
import { plannedRoute, type PlannedRoute } from './route-plan.js';

export type { PlannedEndpoint, PlannedRoute } from './route-plan.js';

/**
 * What `postlog import postal` makes of a Postal installation: the Postlog records to create, each
 * keyed by the Postal id it comes from (the import's map makes a rerun create nothing twice), the
 * IP pool configuration to add, and everything it cannot carry over with the reason. Pure: the
 * reader (infra/postal-import/postal-database.ts) gives the rows, the importer writes the records.
 */

export interface PlannedOrganization {
  postalId: string;
  name: string;
}

export interface PlannedServer {
  postalId: string;
  organizationPostalId: string;
  /** organization/server, Postal's permalinks: how people know the server. */
  label: string;
  name: string;
  mode: 'live' | 'development';
  sendLimitPerHour: number | null;
  retentionDays: number;
  ipPool: string | null;
  suspended: boolean;
  suspendedReason: string | null;
  trackOpens: boolean;
  trackClicks: boolean;
  trackingBaseUrl: string | null;
  trackingExcludedDomains: string[];
  privacyMode: boolean;
  /** Postal's spam threshold, spam failure threshold and outbound spam threshold (null: Postlog's default, off). */
  spamThreshold: number | null;
  spamFailThreshold: number | null;
  outboundSpamThreshold: number | null;
  /** Set once the server's domains are imported: Postlog takes one at a verified domain of the server only. */
  postmasterAddress: string | null;
}

export interface PlannedDomain {
  /** `<domain id>@<server id>`: an organization's domain becomes one domain per server. */
  postalId: string;
  serverPostalId: string;
  name: string;
  verifiedAt: Date | null;
  verificationToken: string | null;
  /** Postal's key and the selector it is published under; null: Postlog makes a new key. */
  dkim: { selector: string; privateKeyPem: string } | null;
}

/** An API key or SMTP login with Postal's secret, or an SMTP-IP range (Postal's key is the range). */
export type PlannedCredential = {
  postalId: string;
  serverPostalId: string;
  name: string;
} & (
  | {
      kind: 'api' | 'smtp';
      /** api: the key's first characters; smtp: a username (Postal checks the password alone, so will Postlog). */
      identifier: string;
      secret: string;
    }
  | {
      kind: 'smtp-ip';
      /** The range (or one address) whose clients may submit without AUTH. */
      cidr: string;
    }
);

export interface PlannedWebhook {
  postalId: string;
  serverPostalId: string;
  url: string;
  description: string;
  /** null: every event */
  events: string[] | null;
  enabled: boolean;
}

export interface PlannedSuppression {
  serverPostalId: string;
  address: string;
  reason: string;
  /** Days from now the entry holds (Postal's keep_until). */
  days: number;
}

/** An IP pool to add to postlog.yaml (`ipPools`): Postlog's pools are configuration, not records. */
export interface PlannedIpPool {
  name: string;
  postalName: string;
  addresses: { address: string; ehlo?: string; weight: number }[];
}

export interface NotCarriedOver {
  what: string;
  reason: string;
}

export interface ImportPlan {
  organizations: PlannedOrganization[];
  servers: PlannedServer[];
  domains: PlannedDomain[];
  credentials: PlannedCredential[];
  webhooks: PlannedWebhook[];
  routes: PlannedRoute[];
  suppressions: PlannedSuppression[];
  ipPools: PlannedIpPool[];
  notCarriedOver: NotCarriedOver[];
}

export interface PlanOptions {
  now: Date;
  /** Postal's dns.dkim_identifier setting ("postal" unless changed): the first part of its selectors. */
  dkimIdentifier: string;
  /** --messages-days: the days of message history imported; undefined: none. */
  messagesDays?: number | undefined;
}

/** Said once per import, whatever the installation holds. */
const ALWAYS_NOT_CARRIED_OVER: NotCarriedOver[] = [
  {
    what: 'server permalinks and tokens',
    reason: "Postlog names servers by id; the import's map keeps which Postal server each one was",
  },
  {
    what: 'return paths of messages Postal sent',
    reason: 'bounces of mail sent before the move name Postal server tokens Postlog does not know',
  },
  {
    what: 'tracking links in messages Postal sent',
    reason: "Postlog's links carry its own signed tokens; Postal's keep working only while Postal runs",
  },
  {
    what: "Postal's webhook signing key",
    reason: 'Postlog signs X-Postal-Signature-256 with its own key: give receivers its public key (JWKS)',
  },
];

export function planImport(snapshot: PostalSnapshot, options: PlanOptions): ImportPlan {
  const notCarriedOver: NotCarriedOver[] = [
    ...ALWAYS_NOT_CARRIED_OVER,
    options.messagesDays
      ? {
          what: `message history before the last ${options.messagesDays} days, and statistics`,
          reason: "--messages-days bounds the history; Postal's statistics are not imported (Postlog counts its own)",
        }
      : {
          what: 'message history and statistics',
          reason: 'not imported without --messages-days (the import carries configuration only)',
        },
  ];
  const skip = (what: string, reason: string) => notCarriedOver.push({ what, reason });

  const organizations = snapshot.organizations.filter((o) => {
    if (o.deletedAt) skip(`organization ${o.permalink}`, 'deleted in Postal');
    return !o.deletedAt;
  });
  const orgById = new Map(organizations.map((o) => [o.id, o]));
  const servers = snapshot.servers.filter((s) => {
    const org = orgById.get(s.organizationId);
    if (s.deletedAt || !org) skip(`server ${s.permalink}`, s.deletedAt ? 'deleted in Postal' : 'its organization is');
    return !s.deletedAt && org;
  });
  const serverById = new Map(servers.map((s) => [s.id, s]));
  const labelOf = (s: PostalServer) => `${orgById.get(s.organizationId)!.permalink}/${s.permalink}`;

  const ipPools = plannedIpPools(snapshot.ipPools, skip);
  const poolName = new Map(
    snapshot.ipPools.map((p) => [p.id, ipPools.find((c) => c.postalName === p.name)?.name ?? null]),
  );
  for (const rule of snapshot.ipPoolRules)
    skip(
      `IP pool rule ${rule.id} (from ${rule.fromText ?? '-'}, to ${rule.toText ?? '-'})`,
      'Postlog chooses the IP pool per server only',
    );

  const plannedServers = servers.map((s) => {
    const org = orgById.get(s.organizationId)!;
    const poolId = s.ipPoolId ?? org.ipPoolId;
    const pool = poolId === null ? null : (poolName.get(poolId) ?? null);
    const label = labelOf(s);
    if (s.allowSender)
      skip(
        `"allow sender" of ${label}`,
        "Postlog holds From to the server's domains; its allowed senders list who a Sender header may name",
      );
    if (s.logSmtpData) skip(`SMTP data logging of ${label}`, 'Postlog does not log SMTP conversations');
    if (s.rawMessageRetentionSize)
      skip(
        `raw message retention size (${s.rawMessageRetentionSize} MB) of ${label}`,
        'Postlog keeps bodies for a number of days only (retentionDays)',
      );
    if (s.messageRetentionDays)
      skip(
        `message retention (${s.messageRetentionDays} days) of ${label}`,
        "Postlog keeps a message's history for ever; its retentionDays bound the bodies (Postal's raw retention)",
      );
    return {
      postalId: String(s.id),
      organizationPostalId: String(s.organizationId),
      label,
      name: s.name,
      mode: s.mode === 'Development' ? 'development' : 'live',
      sendLimitPerHour: s.sendLimit && s.sendLimit > 0 ? s.sendLimit : null,
      // Postal's bodies go after raw_message_retention_days, else with their message, else never
      retentionDays: Math.min(3650, Math.max(1, s.rawMessageRetentionDays ?? s.messageRetentionDays ?? 3650)),
      ipPool: pool,
      suspended: Boolean(s.suspendedAt ?? org.suspendedAt),
      suspendedReason: s.suspendedAt
        ? s.suspensionReason
        : org.suspendedAt
          ? `organization suspended in Postal${org.suspensionReason ? `: ${org.suspensionReason}` : ''}`
          : null,
      ...tracking(
        s,
        snapshot.trackDomains.filter((t) => t.serverId === s.id),
        skip,
      ),
      privacyMode: s.privacyMode,
      spamThreshold: threshold(s.spamThreshold, `spam threshold of ${label}`, skip),
      spamFailThreshold: threshold(s.spamFailureThreshold, `spam failure threshold of ${label}`, skip),
      outboundSpamThreshold: threshold(s.outboundSpamThreshold, `outbound spam threshold of ${label}`, skip),
      postmasterAddress: postmasterAddress(s.postmasterAddress, label, skip),
    } satisfies PlannedServer;
  });

  return {
    organizations: organizations.map((o) => ({ postalId: String(o.id), name: o.name })),
    servers: plannedServers,
    domains: snapshot.domains.flatMap((d) => plannedDomains(d, servers, serverById, labelOf, options, skip)),
    credentials: snapshot.credentials.flatMap((c) => {
      const s = serverById.get(c.serverId);
      return s ? plannedCredential(c, s, labelOf(s), orgById.get(s.organizationId)!, skip) : [];
    }),
    webhooks: snapshot.webhooks.flatMap((w) => {
      const s = serverById.get(w.serverId);
      return s ? [plannedWebhook(w, labelOf(s), skip)] : [];
    }),
    routes: snapshot.routes.flatMap((r) => {
      const s = serverById.get(r.serverId);
      return s ? plannedRoute(r, labelOf(s), snapshot, skip) : [];
    }),
    suppressions: snapshot.suppressions.flatMap((x) => {
      const days = Math.ceil((x.keepUntil.getTime() - options.now.getTime()) / 86_400_000);
      // an entry past its keep_until no longer holds in Postal either
      if (!serverById.has(x.serverId) || days <= 0) return [];
      return [
        {
          serverPostalId: String(x.serverId),
          address: x.address.trim().toLowerCase(),
          reason: x.reason ?? x.type ?? 'imported from Postal',
          days,
        },
      ];
    }),
    ipPools,
    notCarriedOver: [
      ...notCarriedOver,
      ...snapshot.unreadMessageDatabases
        .filter((u) => serverById.has(u.serverId))
        .map((u) => ({
          what: `suppression list of ${labelOf(serverById.get(u.serverId)!)}`,
          reason: `its message database could not be read: ${u.reason}`,
        })),
      ...(snapshot.users > 0
        ? [
            {
              what: `${snapshot.users} dashboard user${snapshot.users === 1 ? '' : 's'}`,
              reason: "Postal's password hashes are not Postlog's: invite them again (postlog user create)",
            },
          ]
        : []),
    ],
  };
}

/** A spam threshold as Postlog takes one (0-10,000); null stays null (Postlog's default, or off). */
function threshold(value: number | null, what: string, skip: (what: string, reason: string) => void): number | null {
  if (value === null) return null;
  if (Number.isFinite(value) && value >= 0 && value <= 10_000) return value;
  skip(`${what} (${value})`, "outside Postlog's 0-10,000: Postlog's default applies");
  return null;
}

/** Postal's postmaster address when it is one (a bare address); Postlog checks its domain when it is set. */
function postmasterAddress(
  value: string | null,
  label: string,
  skip: (what: string, reason: string) => void,
): string | null {
  if (!value?.trim()) return null;
  const parsed = PostmasterAddress.safeParse(value);
  if (parsed.success) return parsed.data;
  skip(`postmaster address ${value} of ${label}`, 'not an address');
  return null;
}

/**
 * Postal tracks only through a server's track domain; Postlog tracks through one base address per
 * server. The first track domain becomes it; without one, tracking stays off, as in Postal.
 */
function tracking(
  s: PostalServer,
  trackDomains: PostalTrackDomain[],
  skip: (what: string, reason: string) => void,
): Pick<PlannedServer, 'trackOpens' | 'trackClicks' | 'trackingBaseUrl' | 'trackingExcludedDomains'> {
  const usable = trackDomains.filter((t) => t.domainName !== null).sort((a, b) => a.id - b.id);
  const first = usable[0];
  for (const other of usable.slice(1))
    skip(
      `track domain ${other.name}.${other.domainName} of ${s.permalink}`,
      `Postlog tracks through one address per server: ${first!.name}.${first!.domainName} was taken`,
    );
  const lines = (text: string | null) =>
    (text ?? '')
      .split(/[\s,]+/)
      .map((d) => d.trim().toLowerCase())
      .filter((d) => d.length > 0);
  if (!first) return { trackOpens: false, trackClicks: false, trackingBaseUrl: null, trackingExcludedDomains: [] };
  return {
    trackOpens: first.trackLoads,
    trackClicks: first.trackClicks,
    trackingBaseUrl: `${first.sslEnabled ? 'https' : 'http'}://${first.name}.${first.domainName}`.toLowerCase(),
    trackingExcludedDomains: [
      ...new Set([...lines(first.excludedClickDomains), ...lines(s.domainsNotToClickTrack)]),
    ].slice(0, 500),
  };
}

/** A domain of a server, or an organization's domain on each of its servers (Postal lets each use it). */
function plannedDomains(
  d: PostalDomain,
  servers: PostalServer[],
  serverById: Map<number, PostalServer>,
  labelOf: (s: PostalServer) => string,
  options: PlanOptions,
  skip: (what: string, reason: string) => void,
): PlannedDomain[] {
  const owners =
    d.ownerType === 'Organization'
      ? servers.filter((s) => s.organizationId === d.ownerId)
      : [serverById.get(d.serverId ?? d.ownerId ?? -1)].filter((s): s is PostalServer => s !== undefined);
  if (owners.length === 0) return [];
  if (!d.outgoing) {
    skip(
      `domain ${d.name}`,
      'receive-only in Postal (outgoing off): Postlog domains are for sending, its routes need none',
    );
    return [];
  }
  const dkim =
    d.dkimPrivateKey && d.dkimIdentifierString
      ? { selector: `${options.dkimIdentifier}-${d.dkimIdentifierString}`, privateKeyPem: d.dkimPrivateKey }
      : null;
  return owners.map((s) => {
    if (!dkim)
      skip(`DKIM key of ${d.name} (${labelOf(s)})`, 'Postal has none: Postlog makes a new one, publish its record');
    return {
      postalId: `${d.id}@${s.id}`,
      serverPostalId: String(s.id),
      name: d.name.toLowerCase(),
      verifiedAt: d.verifiedAt,
      verificationToken: d.verificationToken,
      dkim,
    };
  });
}

function plannedCredential(
  c: PostalCredential,
  s: PostalServer,
  label: string,
  org: PostalOrganization,
  skip: (what: string, reason: string) => void,
): PlannedCredential[] {
  const what = `${c.type} credential ${c.name} (${label})`;
  if (c.type !== 'API' && c.type !== 'SMTP' && c.type !== 'SMTP-IP') {
    skip(what, `type ${c.type} is not one of Postal's`);
    return [];
  }
  if (c.hold) skip(`"hold" of ${what}`, 'Postlog sends what it accepts; it does not hold per credential');
  if (c.type === 'SMTP-IP') {
    const range = parseCidr(c.key);
    if (!range.ok) {
      skip(`${what}: ${c.key}`, range.error);
      return [];
    }
    return [
      { postalId: String(c.id), serverPostalId: String(s.id), kind: 'smtp-ip', name: c.name, cidr: c.key.trim() },
    ];
  }
  return [
    {
      postalId: String(c.id),
      serverPostalId: String(s.id),
      kind: c.type === 'API' ? 'api' : 'smtp',
      name: c.name,
      identifier: c.type === 'API' ? c.key.slice(0, 6) : `${org.permalink}/${s.permalink}/${c.id}`,
      secret: c.key,
    },
  ];
}

function plannedWebhook(w: PostalWebhook, label: string, skip: (what: string, reason: string) => void): PlannedWebhook {
  const known: readonly string[] = postalWebhookEvents;
  const unknown = w.events.filter((e) => !known.includes(e));
  if (unknown.length > 0) skip(`events ${unknown.join(', ')} of webhook ${w.url} (${label})`, 'Postlog has none such');
  if (!w.sign) skip(`unsigned webhook ${w.url} (${label})`, 'Postlog signs every webhook (receivers may ignore it)');
  return {
    postalId: String(w.id),
    serverPostalId: String(w.serverId),
    url: w.url,
    description: w.name ?? '',
    events: w.allEvents ? null : w.events.filter((e) => known.includes(e)),
    enabled: w.enabled,
  };
}

/** Postal's pools as configuration: IPv4 addresses (with their host names as EHLO), weighted by priority. */
function plannedIpPools(pools: PostalIpPool[], skip: (what: string, reason: string) => void): PlannedIpPool[] {
  return pools.flatMap((p) => {
    const name =
      p.name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '') || `pool-${p.id}`;
    const v6 = p.addresses.filter((a) => a.ipv6).length;
    if (v6 > 0)
      skip(`${v6} IPv6 address(es) of IP pool ${p.name}`, 'a Postlog pool address is one local address to bind');
    const addresses = p.addresses
      .filter((a) => a.ipv4)
      .map((a) => ({
        address: a.ipv4!,
        ...(a.hostname ? { ehlo: a.hostname } : {}),
        weight: a.priority && a.priority > 0 ? a.priority : 1,
      }));
    if (addresses.length === 0) {
      skip(`IP pool ${p.name}`, 'it has no IPv4 address');
      return [];
    }
    return [{ name, postalName: p.name, addresses }];
  });
}

/** The `ipPools` section to add to postlog.yaml for the planned pools. */
export function ipPoolsYaml(pools: PlannedIpPool[]): string {
  if (pools.length === 0) return '';
  const lines = ['ipPools:'];
  for (const p of pools) {
    lines.push(`  ${p.name}: # Postal's ${JSON.stringify(p.postalName)}`);
    for (const a of p.addresses) {
      lines.push(`    - address: ${a.address}`);
      if (a.ehlo) lines.push(`      ehlo: ${a.ehlo}`);
      lines.push(`      weight: ${a.weight}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
