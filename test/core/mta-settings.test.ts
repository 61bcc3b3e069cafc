import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { err, ok, type Server } from '../../domain/index.js';
import { AdjustableClock } from '../../infra/clock/index.js';
import { createLogger } from '../../infra/logging/index.js';
import { parseSmartHost } from '../../mta/routing/router.js';
import { tlsPolicyFor } from '../../mta/routing/tls-policy.js';
import { bindingFor, chooseAddress } from '../../mta/settings/ip-pools.js';
import { ServerSettings } from '../../mta/settings/server-settings.js';

const silent = createLogger({ level: 'silent', format: 'json' });

describe('MTA settings', () => {
  it('reads a server from tenancy at most once per TTL, and lets a suspended or unknown server wait', async () => {
    const clock = new AdjustableClock('2026-01-01T00:00:00Z');
    let reads = 0;
    const servers: Record<string, Partial<Server>> = {
      live: { id: 'live', suspended: false },
      paused: { id: 'paused', suspended: true },
    };
    const tenancy = {
      getServer: async (_actor: unknown, id: string) => {
        reads++;
        return servers[id] ? ok(servers[id] as Server) : err({ code: 'NOT_FOUND' as const, message: 'no such server' });
      },
    };
    const settings = new ServerSettings(tenancy as never, clock, 30_000);
    assert.equal(await settings.mayDeliver('live'), true);
    assert.equal(await settings.mayDeliver('live'), true);
    assert.equal(reads, 1, 'cached');
    servers.live!.suspended = true;
    await clock.advance(30_001);
    assert.equal(await settings.mayDeliver('live'), false, 'read again after the TTL');
    assert.equal(await settings.mayDeliver('paused'), false);
    assert.equal(await settings.mayDeliver('gone'), false);
  });

  it('chooses pool addresses in proportion to their weights', () => {
    const pool = [
      { address: '192.0.2.1', weight: 1 },
      { address: '192.0.2.2', weight: 3 },
    ];
    assert.equal(chooseAddress(pool, 0)?.address, '192.0.2.1');
    assert.equal(chooseAddress(pool, 0.24)?.address, '192.0.2.1');
    assert.equal(chooseAddress(pool, 0.25)?.address, '192.0.2.2');
    assert.equal(chooseAddress(pool, 0.999)?.address, '192.0.2.2');
    assert.equal(chooseAddress([], 0.5), undefined);
  });

  it("binds a server's mail to its pool's address and EHLO name; an unknown pool takes the default route", () => {
    const pools = {
      warm: [{ address: '192.0.2.7', ehlo: 'out7.example', weight: 1 }],
      bare: [{ address: '192.0.2.8', weight: 1 }],
    };
    assert.deepEqual(bindingFor({ id: 's', ipPool: 'warm' }, pools, 'mx.example', silent), {
      address: '192.0.2.7',
      ehlo: 'out7.example',
    });
    assert.deepEqual(bindingFor({ id: 's', ipPool: 'bare' }, pools, 'mx.example', silent), {
      address: '192.0.2.8',
      ehlo: 'mx.example',
    });
    assert.equal(bindingFor({ id: 's', ipPool: null }, pools, 'mx.example', silent), undefined);
    assert.equal(bindingFor({ id: 's', ipPool: 'missing' }, pools, 'mx.example', silent), undefined);
  });

  it('maps the TLS settings to a policy per delivery', () => {
    const destinations = { 'strict.example': { tls: 'require' as const } };
    const direct = { destinations, mtaTls: 'opportunistic' as const };
    assert.equal(tlsPolicyFor('strict.example', direct), 'require');
    assert.equal(tlsPolicyFor('other.example', direct), 'opportunistic');
    assert.equal(tlsPolicyFor('strict.example', { ...direct, smartHostTls: 'none' }), 'none', 'the smart host decides');
    assert.equal(tlsPolicyFor('x.example', { ...direct, smartHostTls: 'starttls' }), 'require');
    assert.equal(
      tlsPolicyFor('x.example', { ...direct, smartHostTls: 'tls' }),
      'opportunistic',
      'implicit TLS is the connection',
    );
  });

  it('reads the smart host setting', () => {
    assert.deepEqual(parseSmartHost('relay.example:2525'), { host: 'relay.example', port: 2525 });
    assert.equal(parseSmartHost(undefined), undefined);
  });
});
