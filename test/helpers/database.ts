import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createLogger, type Logger } from '../../infra/logging/index.js';
import { createPool, migrate } from '../../infra/postgres/index.js';
import { SecretBox } from '../../infra/secrets/index.js';

export const testLogger: Logger = createLogger({
  level: process.env.POSTLOG_TEST_LOG_LEVEL ?? 'silent',
  format: 'json',
});

/** A secret box with a fresh key, for a TenancyStore a test builds itself. */
export const testSecretBox = () => new SecretBox([randomBytes(32)]);

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  /** Another pool on the same database: a second "process". */
  newPool(size?: number): pg.Pool;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.POSTLOG_TEST_DATABASE_URL;
  if (!url) throw new Error('POSTLOG_TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

/** A fresh, migrated database on the test server, dropped again by drop(). */
export async function createTestDatabase(
  options: { migrate?: boolean; poolSize?: number } = {},
): Promise<TestDatabase> {
  const name = `postlog_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  const url = u.toString();
  const pools: pg.Pool[] = [];
  const newPool = (size = options.poolSize ?? 20) => {
    const p = createPool(url, size, testLogger);
    pools.push(p);
    return p;
  };
  const pool = newPool();
  if (options.migrate !== false) await migrate(pool, testLogger);
  return {
    url,
    pool,
    newPool,
    async drop() {
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
