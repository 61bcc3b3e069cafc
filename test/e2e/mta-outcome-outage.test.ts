/**
 * The log refusing the MTA's outcome appends for a while (PostgreSQL out of disk, as in the chaos run's
 * disk-full fault): a trigger on the events table refuses every attempt outcome until the test lifts
 * it. Found by the chaos run (seed 4004): the worker logged the refusal and went on to its connection's
 * next message, so each message sent during the outage went out again when its lease ran out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { http } from '../helpers/app.js';
import { startDeliveringApp, type DeliveringApp } from '../helpers/delivering-app.js';
import { dnsmasqAvailable } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';

const skip = dnsmasqAvailable() ? false : 'dnsmasq is not installed (apt-get install dnsmasq-base; .ci/run does it)';

const CONNECTIONS = 2;
const LEASE_SECONDS = 5; // the least the configuration allows

/** Refuses the MTA's outcome events while outcome_outage.refusing, as PostgreSQL out of disk refuses writes. */
const REFUSE_OUTCOMES = `
  CREATE TABLE outcome_outage (refusing boolean NOT NULL);
  INSERT INTO outcome_outage VALUES (false);
  CREATE FUNCTION refuse_outcomes() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    IF (SELECT refusing FROM outcome_outage) THEN
      RAISE EXCEPTION 'could not extend file: No space left on device (the test''s outage)' USING ERRCODE = '53100';
    END IF;
    RETURN NEW;
  END
  $fn$;
  CREATE TRIGGER refuse_outcomes BEFORE INSERT ON events FOR EACH ROW
    WHEN (NEW.type IN ('MessageDelivered', 'MessageDeferred', 'MessageBounced', 'MessageFailed'))
    EXECUTE FUNCTION refuse_outcomes();
`;

describe('an MTA whose outcome appends the log refuses for a while', { skip }, () => {
  let app: DeliveringApp;
  const refusing = (on: boolean) => app.t.db.pool.query('UPDATE outcome_outage SET refusing = $1', [on]);

  before(async () => {
    app = await startDeliveringApp({
      domains: ['outage.test'],
      env: {
        POSTLOG_MTA_LEASE_SECONDS: String(LEASE_SECONDS),
        POSTLOG_MTA_MAX_CONNECTIONS_PER_DESTINATION: String(CONNECTIONS),
      },
    });
    await app.t.db.pool.query(REFUSE_OUTCOMES);
  });
  after(async () => {
    await app?.stop();
  });

  it('keeps each outcome until the log takes it: every message delivered once, its outcome recorded once', async () => {
    const key = { 'X-Server-API-Key': app.tenant.apiKey };
    await refusing(true);
    const to = Array.from({ length: 12 }, (_, i) => `r${i}@outage.test`);
    const res = await http(app.t.url, 'POST', '/v2/messages', {
      body: { from: 'app@sender.test', to, subject: 'outage', text: 'x' },
      headers: key,
    });
    assert.equal(res.status, 202);
    const ids = (res.body.messages as { id: string }[]).map((m) => m.id);

    await eventually(
      async () => app.sink.received.length > 0 || undefined,
      () => 'nothing reached the sink',
      { timeoutMs: 30_000 },
    );
    // well past two leases: a message let go would have gone out again by now
    await new Promise((r) => setTimeout(r, 2 * LEASE_SECONDS * 1000 + 2000));
    const duringOutage = app.sink.received.length;
    assert.ok(
      duringOutage <= CONNECTIONS,
      `${duringOutage} messages reached the sink while the log refused outcomes: more than one per connection`,
    );

    await refusing(false);
    let statuses: string[] = [];
    await eventually(
      async () => {
        statuses = await Promise.all(
          ids.map(
            async (id) => (await http(app.t.url, 'GET', `/v2/messages/${id}`, { headers: key })).body.status as string,
          ),
        );
        return statuses.every((s) => s === 'delivered') || undefined;
      },
      () => `not all delivered: ${statuses.join(',')}`,
      { timeoutMs: 60_000 },
    );
    // a late copy (a lease that ran out) would come within a lease
    await new Promise((r) => setTimeout(r, LEASE_SECONDS * 1000));
    assert.deepEqual(app.sink.received.flatMap((m) => m.to).sort(), [...to].sort(), 'every recipient exactly once');
    const { rows } = await app.t.db.pool.query<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM events WHERE type IN ('MessageDelivered', 'MessageDeferred') GROUP BY type`,
    );
    assert.deepEqual(rows, [{ type: 'MessageDelivered', n: to.length }], 'one outcome per message, recorded once');
  });
});
