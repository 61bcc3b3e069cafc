import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * Every table and SQL function has one owning module, which holds its DDL and the statements on it
 * (docs/architecture.md, "Who owns which table"). For the names below the owner holds every
 * statement, and this test keeps it so: the name appears in no source file outside its owner
 * (comments included) but the migration list, which only names what ran when. Tests may use any
 * table. A name is matched as a prefix, so postlog_append_batch covers postlog_append_batch_checked.
 * Tables named with plain words (events, servers, routes, contents, users…) are not here: the words
 * are everywhere in the code (docs/architecture.md says so).
 */
const OWNERS: Record<string, string> = {
  delivery_queue: 'infra/delivery-queue/',
  postlog_lease_deliveries: 'infra/delivery-queue/',
  postlog_append_batch: 'infra/event-store/',
  postlog_put_contents: 'infra/content/',
  content_release_candidates: 'infra/content/',
  retention_progress: 'infra/content/',
  dkim_keys: 'infra/tenancy/',
  admin_tokens: 'infra/tenancy/',
  config_audit: 'infra/tenancy/',
  track_domains: 'infra/tenancy/',
  message_ids: 'infra/messages/',
  idempotency_keys: 'infra/messages/',
  server_hourly_counts: 'infra/messages/',
  route_deliveries: 'infra/routes/',
  route_endpoints: 'infra/routes/',
  endpoint_deliveries: 'infra/routes/',
  signing_keys: 'infra/webhooks/',
  webhook_endpoints: 'infra/webhooks/',
  webhook_messages: 'infra/webhooks/',
  webhook_deliveries: 'infra/webhooks/',
  webhook_attempts: 'infra/webhooks/',
  projection_checkpoints: 'infra/read-models/',
  rm_messages: 'infra/read-models/',
  rm_deliveries: 'infra/read-models/',
  rm_daily_stats: 'infra/read-models/',
  analytics_events: 'infra/read-models/',
  analytics_messages: 'infra/read-models/',
  message_templates: 'infra/templates/',
  message_template_versions: 'infra/templates/',
  user_sessions: 'infra/accounts/',
  user_tokens: 'infra/accounts/',
  postal_import_map: 'infra/postal-import/',
  tls_report_counts: 'infra/tls-reports/',
  ip_warmup_starts: 'infra/warmup/',
  ip_warmup_counts: 'infra/warmup/',
  tls_reports_sent: 'infra/tls-reports/',
  mta_sts_policies: 'infra/mta-sts/',
  reputation_counts: 'infra/reputation/',
  reputation_senders: 'infra/reputation/',
  server_deliverability: 'infra/deliverability/',
  dmarc_report: 'infra/dmarc-reports/',
  dmarc_refused_reports: 'infra/dmarc-reports/',
  blocklist_status: 'infra/blocklists/',
};
/**
 * The files outside its owner that may name a table, and why: a benchmark, like a test, sets up
 * what it measures with statements of its own.
 */
const ALSO_NAMED_IN: Record<string, string[]> = {
  // the webhook bench fills the outbox directly, to measure the dispatcher alone
  webhook_deliveries: ['bench/webhooks.ts'],
  // the dashboard bench fills the message list with a million rows at once, not through the log
  rm_messages: ['bench/dashboard.ts', 'bench/message-list-fill.ts'],
  // Postal's own table of that name, read from Postal's MariaDB by the import
  track_domains: ['infra/postal-import/postal-database.ts'],
};
const MIGRATION_LIST = 'infra/postgres/migrations-list.ts';
const SOURCE_FOLDERS = ['app', 'domain', 'infra', 'mta', 'projections', 'read-api', 'write-side', 'bench'];

// compiled to dist/test/unit: the sources are two folders up from dist/
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

/** The source files (relative to the repository) that name `name`. */
function filesNaming(name: string): string[] {
  const pattern = new RegExp(`\\b${name}`);
  return SOURCE_FOLDERS.flatMap((folder) => sources(join(repo, folder)))
    .filter((file) => pattern.test(readFileSync(file, 'utf8')))
    .map((file) => relative(repo, file));
}

describe('table owners: a table or SQL function is named only in the module that owns it', () => {
  for (const [name, owner] of Object.entries(OWNERS)) {
    it(`${name}: only in ${owner}`, () => {
      const files = filesNaming(name);
      // the owner itself names it: otherwise this test could not see a name anywhere
      assert.ok(
        files.some((f) => f.startsWith(owner)),
        `${name} is not in ${owner}`,
      );
      const allowed = [MIGRATION_LIST, ...(ALSO_NAMED_IN[name] ?? [])];
      assert.deepEqual(
        files.filter((f) => !f.startsWith(owner) && !allowed.includes(f)),
        [],
      );
    });
  }
});
