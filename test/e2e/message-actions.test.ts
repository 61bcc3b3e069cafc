import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeliveryQueue } from '../../mta/queue/delivery-queue.js';
import { createTenant, http, startTestApp, type Tenant, type TestApp } from '../helpers/app.js';

describe('operator actions on messages: hold, release, cancel, retry (single and bulk)', () => {
  let t: TestApp;
  let dev: Tenant;
  let other: Tenant;
  const key = (tenant: Tenant) => ({ 'X-Server-API-Key': tenant.apiKey });
  const sendTo = async (tenant: Tenant, to: string[]) => {
    const res = await http(t.url, 'POST', '/v2/messages', {
      body: { from: tenant === dev ? 'app@dev.test' : 'app@other.test', to, subject: 's', text: 'x' },
      headers: key(tenant),
    });
    assert.equal(res.status, 202);
    return (res.body.messages as { id: string }[]).map((m) => m.id);
  };
  const status = async (tenant: Tenant, id: string) =>
    (await http(t.url, 'GET', `/v2/messages/${id}`, { headers: key(tenant) })).body.status as string;
  const queueRows = async (ids: string[]) => {
    const { rows } = await t.db.pool.query(
      'SELECT count(*)::int AS n FROM delivery_queue WHERE message_id = ANY($1::bigint[])',
      [ids],
    );
    return rows[0].n as number;
  };

  before(async () => {
    // no MTA: messages stay in the queue; the projector keeps the queue (and the held list) current
    t = await startTestApp({ POSTLOG_ROLES: 'api,projector' });
    dev = await createTenant(t.app, { domain: 'dev.test', mode: 'development' });
    other = await createTenant(t.app, { domain: 'other.test' });
  });
  after(async () => t.stop());

  it('releases every held message of a server in one call', async () => {
    const ids = await sendTo(dev, ['a@example.org', 'b@example.org', 'c@example.net']);
    for (const id of ids) assert.equal(await status(dev, id), 'held');
    const deadline = Date.now() + 5000;
    while ((await queueRows(ids)) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const onlyOrg = await http(t.url, 'POST', '/v2/messages/bulk/release', {
      body: { recipientDomain: 'example.org' },
      headers: key(dev),
    });
    assert.equal(onlyOrg.status, 200, JSON.stringify(onlyOrg.body));
    assert.deepEqual([onlyOrg.body.matched, onlyOrg.body.applied], [2, 2]);
    assert.deepEqual(
      [await status(dev, ids[0]!), await status(dev, ids[1]!), await status(dev, ids[2]!)],
      ['queued', 'queued', 'held'],
    );
    const history = await http(t.url, 'GET', `/v2/messages/${ids[0]}/history`, { headers: key(dev) });
    assert.deepEqual(
      history.body.events.map((e: { type: string }) => e.type),
      ['MessageAccepted', 'MessageHeld', 'MessageReleased', 'MessageQueued'],
    );
    assert.match(history.body.events[2].metadata.actor, /^api-key:/);
  });

  it('holds, retries and cancels one message; refuses what the lifecycle forbids', async () => {
    const [id] = await sendTo(other, ['d@example.org']);
    const act = (action: string, tenant = other) =>
      http(t.url, 'POST', `/v2/messages/${id}/${action}`, { headers: key(tenant) });
    assert.equal((await act('hold')).body.status, 'held');
    assert.equal((await act('hold')).status, 409, 'already held');
    assert.equal((await act('release')).body.status, 'queued');
    const retried = await act('retry');
    assert.deepEqual(retried.body.events, ['MessageQueued']);
    assert.equal((await act('cancel')).body.status, 'cancelled');
    const again = await act('cancel');
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'MESSAGE_ALREADY_FINAL');
    assert.equal((await act('cancel', dev)).status, 404, "another server's key sees nothing");
    assert.equal((await http(t.url, 'POST', `/v2/messages/${id}/explode`, { headers: key(other) })).status, 400);
  });

  it('lets an organization admin act in bulk on its servers, and cancel many at once', async () => {
    const ids = await sendTo(dev, ['e@example.com', 'f@example.com']);
    const deadline = Date.now() + 5000;
    while ((await queueRows(ids)) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const res = await http(t.url, 'POST', '/v2/messages/bulk/cancel', {
      body: { state: 'held', ids },
      headers: { authorization: `Bearer ${dev.adminToken}` },
    });
    assert.deepEqual([res.body.matched, res.body.applied], [2, 2]);
    for (const id of ids) assert.equal(await status(dev, id), 'cancelled');
    const foreign = await http(t.url, 'POST', '/v2/messages/bulk/cancel', {
      body: { serverId: other.server.id },
      headers: { authorization: `Bearer ${dev.adminToken}` },
    });
    assert.equal(foreign.status, 400);
  });

  it('retries a message a worker gave back with a delay at once, and leaves one a worker holds to it', async () => {
    const [delayed, sending] = await sendTo(other, ['g@example.org', 'h@example.org']);
    const deadline = Date.now() + 5000;
    while ((await queueRows([delayed!, sending!])) < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    // as a worker leaves them: one leased and being sent, one given back "not before" five minutes
    // (what a worker does with the mail of a suspended server)
    const worker = new DeliveryQueue(t.db.pool, 'test-worker');
    await t.db.pool.query(
      "UPDATE delivery_queue SET lease_owner = 'test-worker', lease_until = now() + interval '60 seconds' WHERE message_id = ANY($1::bigint[])",
      [[delayed, sending]],
    );
    await worker.release(delayed!, 300);
    const queue = async () =>
      (await http(t.url, 'GET', '/v2/queue', { headers: key(other) })).body.destinations.find(
        (d: { domain: string }) => d.domain === 'example.org',
      );
    assert.equal((await queue()).sending, 1, 'a delayed message is waiting, not being sent');

    const busy = await http(t.url, 'POST', `/v2/messages/${sending}/retry`, { headers: key(other) });
    assert.equal(busy.status, 409);
    assert.equal(busy.body.code, 'MESSAGE_BEING_DELIVERED');
    const retried = await http(t.url, 'POST', `/v2/messages/${delayed}/retry`, { headers: key(other) });
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    // the projector applies the retry: the row is due now and free for the next lease
    const row = async () =>
      (
        await t.db.pool.query(
          'SELECT lease_owner, lease_until, due_at <= now() AS due FROM delivery_queue WHERE message_id = $1',
          [delayed],
        )
      ).rows[0];
    const until = Date.now() + 5000;
    while ((await row()).lease_until !== null && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await row(), { lease_owner: null, lease_until: null, due: true });

    // bulk: the delayed one again (delay it once more), never the one being sent
    await t.db.pool.query(
      "UPDATE delivery_queue SET lease_owner = 'test-worker', lease_until = now() + interval '60 seconds' WHERE message_id = $1",
      [delayed],
    );
    await worker.release(delayed!, 300);
    const bulk = await http(t.url, 'POST', '/v2/messages/bulk/retry', {
      body: { ids: [delayed, sending] },
      headers: key(other),
    });
    assert.deepEqual([bulk.body.matched, bulk.body.applied], [1, 1]);
  });
});
