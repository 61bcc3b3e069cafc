import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateServer, systemActor, type Server } from '../../domain/index.js';
import { startPostlog, type RunningPostlog } from '../../app/postlog.js';
import { loadConfig } from '../../infra/config/index.js';
import type { Logger } from '../../infra/logging/index.js';
import { createTestDatabase, testLogger, type TestDatabase } from './database.js';
import { freePort } from './ports.js';

export interface TestApp {
  app: RunningPostlog;
  db: TestDatabase;
  url: string;
  stop(): Promise<void>;
}

/**
 * A real Postlog (all HTTP routes) on a fresh test database and a free loopback port; `logger`
 * for a test that reads what it logs (log-capture.ts).
 */
export async function startTestApp(
  env: Record<string, string> = {},
  yaml = '',
  logger: Logger = testLogger,
): Promise<TestApp> {
  const db = await createTestDatabase();
  const emptyYaml = join(mkdtempSync(join(tmpdir(), 'postlog-cfg-')), 'postlog.yaml');
  writeFileSync(emptyYaml, yaml);
  const config = loadConfig({
    env: {
      POSTLOG_DATABASE_URL: db.url,
      POSTLOG_HTTP_PORT: String(await freePort()),
      POSTLOG_HOSTNAME: 'postlog.test',
      POSTLOG_LOG_LEVEL: process.env.POSTLOG_TEST_LOG_LEVEL ?? 'silent',
      // the API alone unless a test asks for more: no MTA trying to reach the internet
      POSTLOG_ROLES: 'api',
      ...env,
    },
    file: emptyYaml,
  });
  const app = await startPostlog(config, logger);
  return {
    app,
    db,
    url: app.httpUrl,
    async stop() {
      await app.stop();
      await db.drop();
    },
  };
}

export interface Tenant {
  organizationId: string;
  server: Server;
  apiKey: string;
  smtp: { username: string; password: string };
  adminToken: string;
}

/** An organization with a server, a verified sending domain, credentials and an org admin token. */
export async function createTenant(
  app: RunningPostlog,
  options: { domain?: string; mode?: 'live' | 'development'; ipPool?: string; ed25519?: boolean } = {},
): Promise<Tenant> {
  const actor = systemActor('test');
  const t = app.tenancy;
  const must = <T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T => {
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    return r.value;
  };
  const org = must(await t.createOrganization(actor, { name: 'Test org' }));
  const server = must(
    await t.createServer(
      actor,
      org.id,
      CreateServer.parse({ name: 'Test server', mode: options.mode ?? 'live', ipPool: options.ipPool ?? null }),
    ),
  );
  must(
    await t.createDomain(actor, server.id, {
      name: options.domain ?? 'sender.test',
      verified: true,
      ed25519: options.ed25519 ?? false,
    }),
  );
  const api = must(await t.createCredential(actor, server.id, { kind: 'api', name: 'test' }));
  const smtp = must(await t.createCredential(actor, server.id, { kind: 'smtp', name: 'test' }));
  const admin = must(await t.createAdminToken(actor, { name: 'test', organizationId: org.id }));
  return {
    organizationId: org.id,
    server,
    apiKey: api.secret,
    smtp: { username: smtp.credential.identifier, password: smtp.secret },
    adminToken: admin.secret,
  };
}

/** JSON over HTTP, as a client would send it. */
export async function http(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; raw?: string } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    ...(options.body !== undefined
      ? { body: JSON.stringify(options.body) }
      : options.raw !== undefined
        ? { body: options.raw }
        : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}
