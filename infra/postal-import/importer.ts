import type { SecretBox } from '../secrets/index.js';
import type pg from 'pg';
import { CreateServer, systemActor, UpdateServer, type Result, type TenancyError } from '../../domain/index.js';
import {
  ipPoolsYaml,
  type ImportPlan,
  type NotCarriedOver,
  type PlannedIpPool,
} from '../../domain/postal-import/index.js';
import { SuppressionList } from '../messages/index.js';
import { RouteStore } from '../routes/index.js';
import type { TenancyStore } from '../tenancy/index.js';
import { WebhookStore } from '../webhooks/index.js';
import { PostalImportMap, type ImportedKind } from './import-map.js';

/** What became of one planned record. */
export interface ImportOutcome {
  kind: ImportedKind;
  postalId: string;
  /** How a person knows it: a name, an address, a URL. */
  what: string;
  /** created; exists (an earlier run made it); would-create (--dry-run); failed (message says why). */
  action: 'created' | 'exists' | 'would-create' | 'failed';
  postlogId: string | null;
  message?: string;
}

export interface ImportReport {
  dryRun: boolean;
  outcomes: ImportOutcome[];
  /** Suppression entries added (renewed when there), or that would be. */
  suppressions: number;
  /** The IP pools to add to postlog.yaml, and the text to add. */
  ipPools: PlannedIpPool[];
  ipPoolsYaml: string;
  notCarriedOver: NotCarriedOver[];
}

const actor = systemActor('cli:import-postal');

/**
 * Creates the planned records in Postlog, each once: the map (postal_import_map) says what an
 * earlier run made, and a record made then and still there is left as it is (a change in Postal
 * since is not carried over; docs/migrating-from-postal.md). A dry run reads the map and writes
 * nothing. One record that fails does not stop the others; its children are not made.
 */
export async function runImport(
  plan: ImportPlan,
  deps: { pool: pg.Pool; tenancy: TenancyStore; secrets: SecretBox },
  options: { dryRun: boolean },
): Promise<ImportReport> {
  const map = new PostalImportMap(deps.pool);
  const webhooks = new WebhookStore(deps.pool, deps.secrets);
  const routes = new RouteStore(deps.pool);
  const outcomes: ImportOutcome[] = [];
  const { tenancy } = deps;

  /** The Postlog id of a planned record: found in the map, or made now (undefined: not made). */
  async function ensure(
    kind: ImportedKind,
    postalId: string,
    what: string,
    parent: string | undefined | null,
    exists: (id: string) => Promise<boolean>,
    create: (parent: string) => Promise<Result<string, { message: string }>>,
  ): Promise<string | undefined> {
    const known = await map.get(kind, postalId);
    const outcome = (action: ImportOutcome['action'], postlogId: string | null, message?: string) =>
      outcomes.push({ kind, postalId, what, action, postlogId, ...(message ? { message } : {}) });
    if (known && (await exists(known))) {
      outcome('exists', known);
      return known;
    }
    if (options.dryRun) {
      outcome('would-create', null);
      return undefined;
    }
    if (parent === undefined) {
      outcome('failed', null, 'what it belongs to was not imported');
      return undefined;
    }
    const created = await create(parent!);
    if (!created.ok) {
      outcome('failed', null, created.error.message);
      return undefined;
    }
    await map.set(kind, postalId, created.value);
    outcome('created', created.value);
    return created.value;
  }
  const idOf = <T extends { id: string }>(r: Result<T, TenancyError>): Result<string, TenancyError> =>
    r.ok ? { ok: true, value: r.value.id } : r;
  const invalid = (issues: { path: PropertyKey[]; message: string }[]) => ({
    ok: false as const,
    error: { message: issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') },
  });

  const orgIds = new Map<string, string | undefined>();
  for (const o of plan.organizations)
    orgIds.set(
      o.postalId,
      await ensure(
        'organization',
        o.postalId,
        o.name,
        null,
        async (id) => (await tenancy.getOrganization(actor, id)).ok,
        async () => idOf(await tenancy.createOrganization(actor, { name: o.name })),
      ),
    );

  const serverIds = new Map<string, string | undefined>();
  /** Servers made by this run: settings that wait for their domains are set on these only. */
  const createdServers = new Set<string>();
  for (const s of plan.servers)
    serverIds.set(
      s.postalId,
      await ensure(
        'server',
        s.postalId,
        s.label,
        orgIds.get(s.organizationPostalId),
        async (id) => (await tenancy.getServer(actor, id)).ok,
        async (orgId) => {
          const input = CreateServer.safeParse({
            name: s.name,
            mode: s.mode,
            sendLimitPerHour: s.sendLimitPerHour,
            retentionDays: s.retentionDays,
            ipPool: s.ipPool,
          });
          if (!input.success) return invalid(input.error.issues);
          const settings = UpdateServer.safeParse({
            suspended: s.suspended,
            suspendedReason: s.suspendedReason,
            trackOpens: s.trackOpens,
            trackClicks: s.trackClicks,
            trackingBaseUrl: s.trackingBaseUrl,
            trackingExcludedDomains: s.trackingExcludedDomains,
            privacyMode: s.privacyMode,
            spamThreshold: s.spamThreshold,
            spamFailThreshold: s.spamFailThreshold,
            outboundSpamThreshold: s.outboundSpamThreshold,
          });
          if (!settings.success) return invalid(settings.error.issues);
          const created = await tenancy.createServer(actor, orgId, input.data);
          if (!created.ok) return created;
          createdServers.add(s.postalId);
          return idOf(await tenancy.updateServer(actor, created.value.id, settings.data));
        },
      ),
    );

  for (const d of plan.domains)
    await ensure(
      'domain',
      d.postalId,
      `${d.name}${d.dkim ? ` (DKIM selector ${d.dkim.selector})` : ''}`,
      serverIds.get(d.serverPostalId),
      async (id) => (await tenancy.getDomain(actor, id)).ok,
      async (serverId) => idOf(await tenancy.importDomain(actor, serverId, d)),
    );

  // the postmaster address must be at a verified domain of the server: now that its domains are there
  const notCarriedOver = [...plan.notCarriedOver];
  for (const s of plan.servers) {
    const serverId = serverIds.get(s.postalId);
    if (options.dryRun || !s.postmasterAddress || !serverId || !createdServers.has(s.postalId)) continue;
    const set = await tenancy.updateServer(actor, serverId, { postmasterAddress: s.postmasterAddress });
    if (!set.ok)
      notCarriedOver.push({
        what: `postmaster address ${s.postmasterAddress} of ${s.label}`,
        reason: set.error.message,
      });
  }

  for (const c of plan.credentials)
    await ensure(
      'credential',
      c.postalId,
      c.kind === 'smtp-ip'
        ? `SMTP-IP range ${c.name} (${c.cidr})`
        : `${c.kind === 'api' ? 'API key' : 'SMTP login'} ${c.name} (${c.identifier}…)`,
      serverIds.get(c.serverPostalId),
      async (id) => {
        const serverId = serverIds.get(c.serverPostalId);
        const listed = serverId ? await tenancy.listCredentials(actor, serverId) : undefined;
        return listed?.ok === true && listed.value.some((x) => x.id === id);
      },
      async (serverId) => {
        if (c.kind === 'smtp-ip') {
          const made = await tenancy.createCredential(actor, serverId, { kind: 'smtp-ip', name: c.name, cidr: c.cidr });
          return made.ok ? { ok: true, value: made.value.credential.id } : made;
        }
        const imported = await tenancy.importCredential(actor, serverId, c);
        return imported.ok ? { ok: true, value: imported.value.credential.id } : imported;
      },
    );

  for (const w of plan.webhooks)
    await ensure(
      'webhook',
      w.postalId,
      w.url,
      serverIds.get(w.serverPostalId),
      async (id) => (await webhooks.get(id)) !== undefined,
      async (serverId) => ({ ok: true, value: (await webhooks.create(serverId, w)).endpoint.id }),
    );

  for (const r of plan.routes)
    await ensure(
      'route',
      r.postalId,
      r.endpoints.length > 0
        ? `${r.address} → ${r.endpoints.map((e) => (e.kind === 'http' ? `${e.target} (${e.format})` : e.target)).join(', ')}`
        : `${r.address} (${r.mode})`,
      serverIds.get(r.serverPostalId),
      async (id) => (await routes.get(id)) !== undefined,
      async (serverId) => {
        const route = await routes.create(serverId, r.address, {
          mode: r.mode,
          spamMode: r.spamMode,
          endpoints: r.endpoints,
        });
        return route === 'taken'
          ? { ok: false, error: { message: `${r.address} is routed by another Postlog route already` } }
          : { ok: true, value: route.id };
      },
    );

  // an entry again renews it, keeping the longer period: a rerun adds nothing twice
  const suppressionList = new SuppressionList(deps.pool);
  let suppressions = 0;
  for (const x of plan.suppressions) {
    const serverId = serverIds.get(x.serverPostalId);
    if (options.dryRun) suppressions++;
    else if (serverId) {
      await suppressionList.add(serverId, x.address, x.reason, x.days);
      suppressions++;
    }
  }

  return {
    dryRun: options.dryRun,
    outcomes,
    suppressions,
    ipPools: plan.ipPools,
    ipPoolsYaml: ipPoolsYaml(plan.ipPools),
    notCarriedOver,
  };
}
