import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Authenticator } from '../../infra/http/auth.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { createTenant, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';

/** The real store, counting the look-ups that reach it (each API-key look-up writes a row). */
function counting(tenancy: TenancyStore) {
  const counts = { apiKey: 0, admin: 0 };
  const store = {
    authenticateApiKey: (key: string) => {
      counts.apiKey++;
      return tenancy.authenticateApiKey(key);
    },
    authenticateAdmin: (token: string) => {
      counts.admin++;
      return tenancy.authenticateAdmin(token);
    },
  } as unknown as TenancyStore;
  return { store, counts };
}

describe('API key and admin token cache', () => {
  let t: TestApp;
  let tenant: Tenant;
  before(async () => {
    t = await startTestApp();
    tenant = await createTenant(t.app);
  });
  after(() => t.stop());

  it('concurrent requests after an answer runs out share one look-up', async () => {
    const { store, counts } = counting(t.app.tenancy);
    const auth = new Authenticator(store, 200);
    const first = await Promise.all(Array.from({ length: 50 }, () => auth.server(tenant.apiKey)));
    assert.ok(first.every((s) => s?.id === tenant.server.id));
    assert.equal(counts.apiKey, 1);
    await auth.server(tenant.apiKey);
    assert.equal(counts.apiKey, 1, 'answered from the cache');
    await new Promise((r) => setTimeout(r, 250));
    const again = await Promise.all(Array.from({ length: 50 }, () => auth.server(tenant.apiKey)));
    assert.ok(again.every((s) => s?.id === tenant.server.id));
    assert.equal(counts.apiKey, 2, 'one look-up for the whole herd');

    const unknown = await Promise.all([auth.server('no-such-key'), auth.server('no-such-key')]);
    assert.deepEqual(unknown, [undefined, undefined]);
    assert.equal(counts.apiKey, 3);

    const admins = await Promise.all(Array.from({ length: 20 }, () => auth.admin(tenant.adminToken)));
    assert.ok(admins.every((a) => a?.organizationId === tenant.organizationId));
    assert.equal(counts.admin, 1);
  });

  it('an answer looked up while forget() runs is not remembered after it', async () => {
    const { store, counts } = counting(t.app.tenancy);
    const auth = new Authenticator(store, 60_000);
    const inFlight = auth.server(tenant.apiKey);
    auth.forget();
    assert.equal((await inFlight)?.id, tenant.server.id);
    await auth.server(tenant.apiKey);
    assert.equal(counts.apiKey, 2, 'looked up again: the first answer may predate the change forget() was for');
  });

  it('a failed look-up fails its waiters and is tried again by the next request', async () => {
    let fail = true;
    const store = {
      authenticateApiKey: (key: string) =>
        fail ? Promise.reject(new Error('database unavailable')) : t.app.tenancy.authenticateApiKey(key),
    } as unknown as TenancyStore;
    const auth = new Authenticator(store, 60_000);
    const results = await Promise.allSettled([auth.server(tenant.apiKey), auth.server(tenant.apiKey)]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    fail = false;
    assert.equal((await auth.server(tenant.apiKey))?.id, tenant.server.id);
  });
});
