import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { messageStreamId } from '../../domain/index.js';
import { AdjustableClock } from '../../infra/clock/index.js';
import { MemoryEventLog, MemoryEventStore, type RecordedEvent } from '../../infra/event-store/index.js';
import { createLogger } from '../../infra/logging/index.js';
import { MtaWorker, type MtaWorkerDeps } from '../../mta/mta-worker.js';
import { Router } from '../../mta/routing/router.js';
import { Shaper } from '../../mta/shaping/shaper.js';
import type { TlsPolicy } from '../../mta/smtp/smtp-session.js';
import { handleMessageCommand } from '../../write-side/index.js';
import { tableResolver, type DnsName } from '../helpers/dns-table.js';
import { eventually } from '../helpers/eventually.js';
import { MemoryContents, MemoryLeases, RecordingSuppressions, sendingDomains } from '../helpers/memory-mta-ports.js';
import { freePort } from '../helpers/ports.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';

/**
 * What the MTA worker decides for the messages it leases: delivered, deferred to a time, bounced,
 * failed, or given back to the queue. Real SMTP servers (smtp-server) on loopback addresses are
 * the MX hosts; DNS answers come from a table, the log is the in-memory event store, and the
 * queue, bodies, sending domains and suppressions (PostgreSQL in production) are kept in memory.
 * Times come from a test clock, so recorded times are exact.
 */
const NOW = '2026-03-01T12:00:00.000Z';
const later = (seconds: number) => new Date(Date.parse(NOW) + seconds * 1000).toISOString();
const RETRY = { delaysSeconds: [60, 300], maxAgeSeconds: 86_400 };
const SERVER = 'srv-1';
const FINAL_OR_RETRY = ['MessageDelivered', 'MessageDeferred', 'MessageBounced', 'MessageFailed'];

/** One MTA with its ports; `send` accepts a message and queues it for the worker. */
function world(
  options: { names?: Record<string, DnsName>; port?: number; tls?: TlsPolicy; tenancy?: MtaWorkerDeps['tenancy'] } = {},
) {
  const clock = new AdjustableClock(NOW);
  const store = new MemoryEventStore({ log: new MemoryEventLog({ clock: () => clock.now() }) });
  const leases = new MemoryLeases();
  const contents = new MemoryContents();
  const suppressions = new RecordingSuppressions();
  const names: Record<string, DnsName> = options.names ?? {};
  const registry = new Registry();
  const deliveries = new Counter({ name: 'deliveries', help: 'h', labelNames: ['outcome'], registers: [registry] });
  const shaper = new Shaper(() => ({ maxConnections: 2, messagesPerMinute: 0 }), clock);
  const suspended = new Set<string>();
  let next = 1000;
  const deps: MtaWorkerDeps = {
    queue: leases,
    router: new Router(tableResolver(names), options.port ?? 25, { clock }),
    shaper,
    eventStore: store,
    contents,
    tenancy: options.tenancy ?? sendingDomains('rp.example.com'),
    suppressions,
    logger: createLogger({ level: 'silent', format: 'json' }),
    metrics: { deliveries } as unknown as MtaWorkerDeps['metrics'],
    clock,
    hostname: 'mta.postlog.test',
    retryPolicy: RETRY,
    tlsPolicyFor: () => options.tls ?? 'opportunistic',
    maxInFlight: 50,
    messagesPerConnection: 100,
    connectionsPerDestination: 2,
    bindingFor: async () => undefined,
    mayDeliver: async (serverId) => !suspended.has(serverId),
    leaseSeconds: 60,
    pollMs: 5,
  };

  async function send(to: string, o: { acceptedSecondsAgo?: number; serverId?: string; body?: boolean } = {}) {
    const messageId = String(next++);
    const token = `Tok${messageId}abcdefghijkl`.slice(0, 16);
    const raw = Buffer.from(`From: sender@example.com\r\nTo: ${to}\r\nSubject: Hi\r\n\r\nHello ${messageId}\r\n`);
    const contentHash = o.body === false ? 'f'.repeat(64) : contents.put(raw);
    const serverId = o.serverId ?? SERVER;
    const accepted = await handleMessageCommand(store, messageId, {
      type: 'Accept',
      message: {
        messageId,
        serverId,
        batchId: 'batch-1',
        rfcMessageId: `${messageId}@example.com`,
        token,
        from: 'sender@example.com',
        to,
        subject: 'Hi',
        contentHash,
        size: raw.length,
      },
      at: NOW,
    });
    assert.ok(accepted.ok, 'accepted');
    leases.due.push({
      messageId,
      serverId,
      mailFrom: 'sender@example.com',
      rcptTo: to,
      recipientDomain: to.slice(to.indexOf('@') + 1),
      contentHash,
      token,
      attempts: 0,
      acceptedAt: new Date(Date.parse(NOW) - (o.acceptedSecondsAgo ?? 60) * 1000),
    });
    return { messageId, token };
  }

  const events = async (messageId: string): Promise<RecordedEvent[]> => store.readStream(messageStreamId(messageId));
  /** The event the attempt ended with (undefined while there is none). */
  const outcome = async (messageId: string) =>
    (await events(messageId)).find((e) => FINAL_OR_RETRY.includes(e.type)) as
      | (RecordedEvent & { data: Record<string, any> })
      | undefined;

  /** Runs the worker until every queued message has an outcome or went back to the queue; returns it stopped. */
  async function run(): Promise<MtaWorker> {
    const ids = leases.due.map((m) => m.messageId);
    const worker = new MtaWorker(deps);
    worker.start();
    try {
      await eventually(
        async () => {
          for (const id of ids)
            if (!(await outcome(id)) && !leases.released.some((r) => r.messageId === id)) return undefined;
          return true;
        },
        () => {
          const seen = ids.map((id) => [id, store.log.stream(messageStreamId(id)).map((e) => e.type)]);
          return `events: ${JSON.stringify(Object.fromEntries(seen))}`;
        },
        { timeoutMs: 10_000, intervalMs: 5 },
      );
    } finally {
      await worker.stop();
    }
    return worker;
  }

  const counted = async () =>
    Object.fromEntries((await deliveries.get()).values.map((v) => [v.labels.outcome, v.value]));

  /** A worker on these ports, for a test that starts and stops it itself. */
  const worker = () => new MtaWorker(deps);

  return { clock, store, leases, suppressions, shaper, names, suspended, send, events, outcome, run, counted, worker };
}

/** DNS for example.org: these MX hosts (name, preference, loopback address). */
function loopbackMx(...hosts: [name: string, priority: number, address: string][]): Record<string, DnsName> {
  const table: Record<string, DnsName> = {
    'example.org': { mx: hosts.map(([exchange, priority]) => ({ exchange, priority })) },
  };
  for (const [name, , address] of hosts) table[name] = { a: [address] };
  return table;
}
const ONE_MX = loopbackMx(['mx1.example.org', 10, '127.0.0.1']);

describe('MTA worker: what it decides for each message', () => {
  const sinks: SmtpSink[] = [];
  /** An SMTP server on a loopback address (127.0.0.x), plain text (no STARTTLS offered). */
  async function sink(address: string, port: number, o: Parameters<typeof startSmtpSink>[2] = {}) {
    const s = await startSmtpSink(address, port, { tls: false, ...o });
    sinks.push(s);
    return s;
  }
  afterEach(async () => {
    await Promise.all(sinks.splice(0).map((s) => s.close()));
  });

  it('delivers: the MX host, its reply and the time are recorded; the return path names the message', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port });
    const peer = await sink('127.0.0.1', port);
    const { messageId, token } = await mta.send('rcpt@example.org');
    await mta.run();
    const delivered = await mta.outcome(messageId);
    assert.equal(delivered?.type, 'MessageDelivered');
    assert.equal(delivered.data.delivery.mxHost, 'mx1.example.org');
    assert.equal(delivered.data.delivery.attempt, 1);
    assert.equal(delivered.data.delivery.reply.code, 250);
    assert.equal(delivered.data.delivery.at, NOW);
    assert.equal(peer.received.length, 1);
    assert.equal(peer.received[0]!.from, `b-${messageId}-${token}@rp.example.com`);
    assert.deepEqual(peer.received[0]!.to, ['rcpt@example.org']);
    assert.equal(peer.received[0]!.ehlo, 'mta.postlog.test');
    assert.deepEqual(await mta.counted(), { delivered: 1 });
    assert.deepEqual(mta.leases.released, [], 'a delivered message is not given back');
  });

  it('keeps no destination once its queue is empty and its connections closed (bounded over many MX hosts)', async () => {
    const port = await freePort();
    const names: Record<string, DnsName> = {};
    for (const d of ['a', 'b', 'c']) {
      names[`${d}.example`] = { mx: [{ exchange: `mx.${d}.example`, priority: 10 }] };
      names[`mx.${d}.example`] = { a: ['127.0.0.1'] };
    }
    const mta = world({ names, port });
    const peer = await sink('127.0.0.1', port);
    for (const d of ['a', 'b', 'c']) await mta.send(`rcpt@${d}.example`);
    const worker = await mta.run();
    assert.equal(peer.received.length, 3);
    assert.equal(worker.openDestinations, 0);
  });

  it('carries a message that came while the destination’s last connection was closing (not deferred)', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port });
    const peer = await sink('127.0.0.1', port);
    // the first delivery's outcome is recorded only when the test says so: its connection, which found the
    // queue empty, waits for that record before it closes (as it does while the log is slow under load)
    const append = mta.store.append.bind(mta.store);
    let recordFirst!: () => void;
    const gate = new Promise<void>((resolve) => (recordFirst = resolve));
    const first = await mta.send('first@example.org');
    mta.store.append = async (streamId, events, expected) => {
      if (streamId === messageStreamId(first.messageId) && events.some((e) => e.type === 'MessageDelivered'))
        await gate;
      return append(streamId, events, expected);
    };
    const worker = mta.worker();
    worker.start();
    try {
      await eventually(
        async () => (peer.received.length === 1 ? true : undefined),
        () => 'the first message did not arrive',
      );
      await new Promise((resolve) => setTimeout(resolve, 100)); // its connection is closing now
      const second = await mta.send('second@example.org');
      await eventually(
        async () => (mta.leases.due.length === 0 ? true : undefined),
        () => 'the second message was not leased',
      );
      await new Promise((resolve) => setTimeout(resolve, 100)); // queued behind the closing connection
      recordFirst();
      const outcome = await eventually(
        () => mta.outcome(second.messageId),
        () => 'the second message has no outcome',
      );
      assert.equal(outcome.type, 'MessageDelivered', JSON.stringify(outcome.data));
      assert.deepEqual(
        peer.received.map((m) => m.to),
        [['first@example.org'], ['second@example.org']],
      );
      assert.equal((await mta.outcome(first.messageId))?.type, 'MessageDelivered');
    } finally {
      recordFirst();
      await worker.stop();
    }
  });

  it('defers a 4xx to the retry policy’s next time, or to the time the server asked for', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port });
    const peer = await sink('127.0.0.1', port);
    peer.behaviours.set('busy@example.org', { code: 450, text: '4.2.1 Mailbox busy' });
    peer.behaviours.set('grey@example.org', { code: 451, text: '4.7.1 Greylisted, try again in 300 seconds' });
    const busy = await mta.send('busy@example.org');
    const grey = await mta.send('grey@example.org');
    await mta.run();
    const deferred = await mta.outcome(busy.messageId);
    assert.equal(deferred?.type, 'MessageDeferred');
    assert.equal(deferred.data.nextAttemptAt, later(60), 'the first delay of the policy');
    assert.equal(deferred.data.delivery.reply.code, 450);
    assert.equal(deferred.data.reason, '450 4.2.1 Mailbox busy');
    const greylisted = await mta.outcome(grey.messageId);
    assert.equal(greylisted?.type, 'MessageDeferred');
    assert.equal(greylisted.data.nextAttemptAt, later(300), "the server's hint");
    assert.equal(mta.shaper.state('mx1.example.org').pausedUntil, 0, 'a plain 4xx is no reason to slow down');
    assert.deepEqual(await mta.counted(), { deferred: 2 });
  });

  it('gives up on a 4xx past the queue lifetime', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port });
    const peer = await sink('127.0.0.1', port);
    peer.behaviours.set('busy@example.org', { code: 450, text: '4.2.1 Mailbox busy' });
    const { messageId } = await mta.send('busy@example.org', { acceptedSecondsAgo: 86_400 - 30 });
    await mta.run();
    const failed = await mta.outcome(messageId);
    assert.equal(failed?.type, 'MessageFailed');
    assert.match(failed.data.reason, /last answer: 450 4\.2\.1 Mailbox busy$/);
  });

  it('bounces a 5xx, classified: a bad mailbox is suppressed, a policy block is not', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port });
    const peer = await sink('127.0.0.1', port);
    peer.behaviours.set('gone@example.org', { code: 550, text: '5.1.1 <gone@example.org>: User unknown' });
    peer.behaviours.set('blocked@example.org', { code: 554, text: '5.7.1 Message refused by local policy' });
    const gone = await mta.send('gone@example.org');
    const blocked = await mta.send('blocked@example.org');
    const fine = await mta.send('fine@example.org');
    await mta.run();
    const hard = await mta.outcome(gone.messageId);
    assert.equal(hard?.type, 'MessageBounced');
    assert.equal(hard.data.classification, 'bad-mailbox');
    assert.equal(hard.data.suppress, true);
    assert.equal(hard.data.enhancedCode, '5.1.1');
    const policy = await mta.outcome(blocked.messageId);
    assert.equal(policy?.type, 'MessageBounced');
    assert.equal(policy.data.classification, 'policy');
    assert.equal(policy.data.suppress, false);
    assert.deepEqual(
      mta.suppressions.added.map((s) => [s.serverId, s.address]),
      [[SERVER, 'gone@example.org']],
    );
    assert.equal(
      (await mta.outcome(fine.messageId))?.type,
      'MessageDelivered',
      'the connection goes on after a refusal',
    );
    assert.equal(peer.sessions(), 1, 'all three over one connection');
  });

  it('fails over to the MX hosts in preference order, and backs off from the one that said 421', async () => {
    const port = await freePort();
    const table = loopbackMx(
      ['mx3.example.org', 30, '127.0.0.4'],
      ['mx1.example.org', 10, '127.0.0.2'], // nothing listens there
      ['mx2.example.org', 20, '127.0.0.3'],
    );
    const mta = world({ names: table, port });
    const throttling = await sink('127.0.0.3', port, { greeting421: () => true });
    const accepting = await sink('127.0.0.4', port);
    const { messageId } = await mta.send('rcpt@example.org');
    await mta.run();
    const delivered = await mta.outcome(messageId);
    assert.equal(delivered?.type, 'MessageDelivered');
    assert.equal(delivered.data.delivery.mxHost, 'mx3.example.org');
    assert.equal(throttling.sessions(), 1, 'mx2 was tried (after mx1, before mx3)');
    assert.equal(accepting.received.length, 1);
    assert.ok(mta.shaper.state('mx2.example.org').pausedUntil > Date.parse(NOW), 'mx2 is paused');
    assert.equal(mta.shaper.state('mx1.example.org').pausedUntil, 0, 'a refused connection is not a throttle');
  });

  it('defers when no MX host answers, saying what each said, in preference order', async () => {
    const port = await freePort();
    const table = loopbackMx(['mx2.example.org', 20, '127.0.0.3'], ['mx1.example.org', 10, '127.0.0.2']);
    const mta = world({ names: table, port });
    await sink('127.0.0.3', port, { greeting421: () => true });
    const { messageId } = await mta.send('rcpt@example.org');
    await mta.run();
    const deferred = await mta.outcome(messageId);
    assert.equal(deferred?.type, 'MessageDeferred');
    assert.equal(deferred.data.nextAttemptAt, later(60));
    assert.equal(deferred.data.delivery.mxHost, 'mx1.example.org');
    assert.match(deferred.data.reason, /^no MX host answered: /);
    const [first, second, ...more] = (deferred.data.reason as string).replace(/^no MX host answered: /, '').split('; ');
    assert.match(first!, /^mx1\.example\.org \[127\.0\.0\.2\]: .*ECONNREFUSED/);
    assert.match(second!, /^mx2\.example\.org \[127\.0\.0\.3\]: 421 .*Too many connections/);
    assert.deepEqual(more, [], 'each host once');
  });

  it('defers when TLS is required and the MX host does not offer it; nothing is sent in the clear', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port, tls: 'require' });
    const peer = await sink('127.0.0.1', port);
    const { messageId } = await mta.send('rcpt@example.org');
    await mta.run();
    assert.equal((await mta.outcome(messageId))?.type, 'MessageDeferred');
    assert.equal(peer.received.length, 0);
  });

  it('after a connection broke mid-message, defers that one and carries the next over a new connection', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port });
    const peer = await sink('127.0.0.1', port);
    peer.behaviours.set('drop@example.org', 'drop-during-data');
    const dropped = await mta.send('drop@example.org');
    const after = await mta.send('after@example.org');
    await mta.run();
    const deferred = await mta.outcome(dropped.messageId);
    assert.equal(deferred?.type, 'MessageDeferred');
    assert.equal(deferred.data.nextAttemptAt, later(60));
    assert.equal((await mta.outcome(after.messageId))?.type, 'MessageDelivered');
    assert.equal(peer.sessions(), 2);
  });

  it('settles what DNS decides without a session: NXDOMAIN bounces, SERVFAIL defers', async () => {
    const mta = world({ names: { 'broken.example': { mx: { fail: 'ESERVFAIL' } } } });
    const nowhere = await mta.send('someone@nowhere.example');
    const broken = await mta.send('someone@broken.example');
    await mta.run();
    const bounced = await mta.outcome(nowhere.messageId);
    assert.equal(bounced?.type, 'MessageBounced');
    assert.equal(bounced.data.classification, 'dns');
    assert.equal(bounced.data.enhancedCode, '5.1.2');
    assert.equal(bounced.data.suppress, false);
    assert.equal(bounced.data.delivery.mxHost, undefined, 'no MX host was involved');
    const deferred = await mta.outcome(broken.messageId);
    assert.equal(deferred?.type, 'MessageDeferred');
    assert.equal(deferred.data.reason, 'DNS lookup of broken.example failed (ESERVFAIL)');
    assert.equal(deferred.data.nextAttemptAt, later(60));
    assert.deepEqual(mta.suppressions.added, []);
  });

  it('fails a message whose content is gone', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port });
    const peer = await sink('127.0.0.1', port);
    const { messageId } = await mta.send('rcpt@example.org', { body: false });
    await mta.run();
    const failed = await mta.outcome(messageId);
    assert.equal(failed?.type, 'MessageFailed');
    assert.equal(failed.data.reason, 'the message content is gone (retention)');
    assert.equal(peer.received.length, 0);
  });

  it('gives a lease back untried: soon when cancelled, in 5 minutes when its server is suspended', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port });
    const peer = await sink('127.0.0.1', port);
    const cancelled = await mta.send('cancelled@example.org');
    assert.ok((await handleMessageCommand(mta.store, cancelled.messageId, { type: 'Cancel', at: NOW })).ok);
    mta.suspended.add('srv-paused');
    const paused = await mta.send('paused@example.org', { serverId: 'srv-paused' });
    await mta.run();
    assert.deepEqual(
      [...mta.leases.released].sort((a, b) => a.messageId.localeCompare(b.messageId)),
      [
        { messageId: cancelled.messageId, afterSeconds: 30 },
        { messageId: paused.messageId, afterSeconds: 300 },
      ],
    );
    assert.equal(await mta.outcome(cancelled.messageId), undefined, 'no attempt recorded');
    assert.equal(await mta.outcome(paused.messageId), undefined);
    assert.equal(peer.sessions(), 0);
  });

  it('keeps an outcome the log refuses and appends it again; its connection sends nothing new meanwhile', async () => {
    const port = await freePort();
    const mta = world({ names: ONE_MX, port });
    const peer = await sink('127.0.0.1', port);
    const sent = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((r) => mta.send(`${r}@example.org`)));
    // the log refuses outcomes, as PostgreSQL out of disk does, until the test lifts it
    let refusing = true;
    let refused = 0;
    const append = mta.store.append.bind(mta.store);
    mta.store.append = async (...args) => {
      if (refusing && args[1].some((e) => e.type === 'MessageDelivered')) {
        refused++;
        throw new Error('could not extend file "base/5/16401": No space left on device');
      }
      return append(...args);
    };
    const worker = mta.worker();
    worker.start();
    try {
      await eventually(
        async () => (mta.clock.sleeping > 0 ? true : undefined),
        () => `${peer.received.length} received, ${refused} appends refused, ${mta.clock.sleeping} waiting`,
        { timeoutMs: 10_000, intervalMs: 5 },
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(
        peer.received.length <= 2,
        `${peer.received.length} sent: at most one per connection (2) while refused`,
      );
      assert.deepEqual(mta.leases.released, [], 'nothing is let go to be leased again');
      refusing = false;
      await mta.clock.advance(200);
      await eventually(
        async () => {
          const outcomes = await Promise.all(sent.map((m) => mta.outcome(m.messageId)));
          return outcomes.every((o) => o?.type === 'MessageDelivered') || undefined;
        },
        () => `${peer.received.length} received`,
        { timeoutMs: 10_000, intervalMs: 5 },
      );
    } finally {
      await worker.stop();
    }
    assert.equal(peer.received.length, 6, 'each message once');
    for (const m of sent)
      assert.equal((await mta.events(m.messageId)).filter((e) => e.type === 'MessageDelivered').length, 1);
    assert.deepEqual(await mta.counted(), { delivered: 6 });
  });

  it('gives a lease back for a minute when preparing the message fails, and records no attempt', async () => {
    const port = await freePort();
    const tenancy = {
      sendingDomain: async () => {
        throw new Error('connection to the tenancy database lost');
      },
    };
    const mta = world({ names: ONE_MX, port, tenancy });
    const peer = await sink('127.0.0.1', port);
    const { messageId } = await mta.send('rcpt@example.org');
    await mta.run();
    assert.deepEqual(mta.leases.released, [{ messageId, afterSeconds: 60 }]);
    assert.equal(await mta.outcome(messageId), undefined);
    assert.equal(peer.received.length, 0);
  });
});
