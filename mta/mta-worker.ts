import {
  REQUIRETLS_STATUS,
  type DeliveryAttempt,
  type MessageCommandInput,
  type RetryPolicy,
} from '../domain/index.js';
import type { Clock } from '../infra/clock/index.js';
import type { ContentStore } from '../infra/content/index.js';
import type { EventStore } from '../infra/event-store/index.js';
import type { Logger } from '../infra/logging/index.js';
import type { SuppressionList } from '../infra/messages/index.js';
import type { Metrics } from '../infra/metrics/index.js';
import type { TenancyStore } from '../infra/tenancy/index.js';
import { handleMessageCommand, loadMessagesKept, type LoadedMessage } from '../write-side/index.js';
import type { DeliveryQueue, LeasedMessage } from './queue/delivery-queue.js';
import type { Dane } from './routing/dane.js';
import { verifyDane } from './routing/dane-verify.js';
import type { MtaSts } from './routing/mta-sts.js';
import type { Route, RouteHost, Router } from './routing/router.js';
import {
  appliedFor,
  hostsUnderPolicy,
  judgeSession,
  planMessageTransport,
  transportKey,
  type MessageTls,
  type TlsFailure,
  type TlsPolicySource,
  type Transport,
} from './routing/transport-security.js';
import type { Shaper } from './shaping/shaper.js';
import { decideOutcome, retryOrGiveUp } from './delivery-outcome.js';
import { prepareForDelivery } from './signing/prepare-message.js';
import { SmtpSession, type SendOutcome, type TlsPolicy } from './smtp/smtp-session.js';
import { nextLeaseInMs } from './queue/lease-pacing.js';

/** What the worker does with the delivery queue's leases (PostgreSQL rows; tests keep them in memory). */
export type DeliveryLeases = Pick<DeliveryQueue, 'lease' | 'release' | 'renew'>;

export interface MtaWorkerDeps {
  queue: DeliveryLeases;
  router: Router;
  shaper: Shaper;
  eventStore: EventStore;
  contents: Pick<ContentStore, 'getMany'>;
  tenancy: Pick<TenancyStore, 'sendingDomain'>;
  suppressions: Pick<SuppressionList, 'add'>;
  logger: Logger;
  metrics: Pick<Metrics, 'deliveries'>;
  /** Stamps attempts and outcomes and decides retry times (durations are measured with performance.now()). */
  clock: Clock;
  hostname: string;
  retryPolicy: RetryPolicy;
  tlsPolicyFor: (recipientDomain: string) => TlsPolicy;
  /** Where that policy comes from (unset: the MTA's default, so MTA-STS may apply). */
  tlsPolicySourceFor?: (recipientDomain: string) => TlsPolicySource;
  /** MTA-STS policies of recipient domains (unset: POSTLOG_MTA_STS is off). */
  mtaSts?: Pick<MtaSts, 'policyFor'> | undefined;
  /** DANE (RFC 7672) through a validating resolver (unset: POSTLOG_DANE is off). */
  dane?: Pick<Dane, 'planFor'> | undefined;
  /** CAs that verify MX certificates under MTA-STS (Node's roots plus POSTLOG_TLS_EXTRA_CA_FILE). */
  caCertificates?: string[] | undefined;
  smartHostAuth?: { user: string; pass: string } | undefined;
  smartHostSecure?: boolean;
  /** Messages in delivery at once (all destinations). */
  maxInFlight: number;
  /** Messages one connection carries before it is closed. */
  messagesPerConnection: number;
  /** Connections opened at once to one destination for a burst of its messages. */
  connectionsPerDestination: number;
  /**
   * The local address (and EHLO name) to send a server's mail from to an MX host; undefined: the
   * default route; `holdBack`: not now (warm-up allowance or an IP/pool rate used up, mta/shaping/).
   */
  bindingFor: (serverId: string, mxHost: string) => Promise<Binding | undefined | HoldBack>;
  /** Messages one connection to an MX host carries (its provider's shaping rule); unset: messagesPerConnection. */
  messagesPerConnectionFor?: (mxHost: string) => number;
  /** False while the server is suspended (or gone): its mail stays queued. */
  mayDeliver: (serverId: string) => Promise<boolean>;
  leaseSeconds: number;
  pollMs: number;
}

type Outcome = 'delivered' | 'deferred' | 'bounced' | 'failed' | 'skipped';

export interface Binding {
  address: string;
  ehlo: string;
}

/** A message that waits without an attempt: back to the queue for `retryInSeconds`, with the reason logged. */
export interface HoldBack {
  holdBack: string;
  retryInSeconds: number;
}

/** A leased message with its state, loaded when its delivery started. */
type Deliverable = LeasedMessage & { loaded: LoadedMessage; attempt: number };

interface Destination {
  /** Its key in the worker's map of destinations. */
  key: string;
  hosts: RouteHost[];
  transport: Transport;
  binding: Binding | undefined;
  queue: Deliverable[];
  connections: number;
}

/**
 * Leases due messages, groups them by recipient domain, routes each domain (MX), and carries
 * its messages over as few SMTP connections as the destination's shaping allows. Every attempt
 * ends as an event on the message's stream.
 */
export class MtaWorker {
  /**
   * Messages this worker holds (waiting in a destination queue or being sent). Their leases are
   * renewed while held, and a message re-leased while held is not taken twice: without both, a
   * message that waits longer than its lease could be sent twice.
   */
  private readonly holding = new Set<string>();
  private heartbeat: NodeJS.Timeout | undefined;
  private get inFlight(): number {
    return this.holding.size;
  }
  private finish(m: { messageId: string }): void {
    this.holding.delete(m.messageId);
  }
  private stopping = false;
  /** performance.now() when stop() was called: outcomes the log refuses are retried for a while more */
  private stoppingSince = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tasks = new Set<Promise<void>>();
  private ticking = false;

  constructor(private readonly d: MtaWorkerDeps) {}

  start(): void {
    this.schedule(0);
    this.heartbeat = setInterval(
      () => {
        this.d.queue
          .renew([...this.holding], this.d.leaseSeconds)
          .catch((err: Error) => this.d.logger.warn({ error: err.message }, 'renewing delivery leases failed'));
      },
      Math.max(1000, (this.d.leaseSeconds * 1000) / 3),
    );
    this.heartbeat.unref();
  }

  /** Stops leasing and waits for deliveries in progress. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stoppingSince = performance.now();
    this.wakeOnStop();
    if (this.timer) clearTimeout(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.allSettled([...this.tasks]);
    await Promise.allSettled([...this.pendingRecords]);
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopping) return;
    this.ticking = true;
    let leased: LeasedMessage[] = [];
    let asked = 0;
    try {
      const room = this.d.maxInFlight - this.inFlight;
      // small leases, often: new messages join the destinations' queues while earlier ones are sent
      asked = Math.min(room, 200);
      if (asked > 0) leased = await this.d.queue.lease(asked, this.d.leaseSeconds);
    } catch (err) {
      this.d.logger.error({ error: (err as Error).message }, 'leasing from the delivery queue failed');
    } finally {
      this.ticking = false;
    }
    // one of ours, re-leased while it waits: we hold it already (and the lease is fresh again)
    const fresh = leased.filter((m) => !this.holding.has(m.messageId));
    fresh.forEach((m) => this.holding.add(m.messageId));
    if (fresh.length > 0) this.track(this.dispatch(fresh));
    this.schedule(
      nextLeaseInMs({
        asked,
        taken: leased.length,
        inFlight: this.inFlight,
        maxInFlight: this.d.maxInFlight,
        pollMs: this.d.pollMs,
      }),
    );
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task
      .catch((err: Error) => this.d.logger.error({ error: err.message }, 'a delivery task failed'))
      .finally(() => this.tasks.delete(task));
  }

  /**
   * Routes the leased messages' domains and puts each message in its destination's queue (the
   * first MX host: domains hosted by one provider share its connections and shaping bucket).
   */
  private async dispatch(leased: LeasedMessage[]): Promise<void> {
    const handedOver = new Set<string>();
    try {
      const messages = await this.deliverable(leased);
      const domains = [...new Set(messages.map((m) => m.recipientDomain))];
      const routes = new Map(
        await Promise.all(
          domains.map(
            async (d) =>
              [
                d,
                await this.d.router
                  .route(d)
                  .catch((err: Error): Route => ({ kind: 'defer', reason: `routing failed: ${err.message}` })),
              ] as const,
          ),
        ),
      );
      // per domain, and apart for messages that ask for REQUIRETLS or say TLS-Required: No (RFC 8689)
      const transportOf = new Map<string, Deliverable>();
      for (const m of messages)
        if (routes.get(m.recipientDomain)!.kind === 'deliver') transportOf.set(transportKeyOf(m), m);
      const transports = new Map(
        await Promise.all(
          [...transportOf].map(
            async ([k, m]) =>
              [k, await this.transport(m.recipientDomain, routes.get(m.recipientDomain)!, tlsOf(m))] as const,
          ),
        ),
      );
      const settled: Promise<void>[] = [];
      for (const m of messages) {
        const route = routes.get(m.recipientDomain)!;
        handedOver.add(m.messageId);
        if (route.kind !== 'deliver') {
          settled.push(this.settleWithoutSession(m, route).finally(() => this.finish(m)));
          continue;
        }
        const transport = transports.get(transportKeyOf(m))!;
        if (transport.blocked) {
          const blocked = transport.blocked;
          settled.push(this.refuseBogusMx(m, transport, blocked).finally(() => this.finish(m)));
          continue;
        }
        const hosts = hostsUnderPolicy(route.hosts, transport);
        if (hosts.length === 0) {
          settled.push(this.refuseUnlistedMx(m, route.hosts, transport).finally(() => this.finish(m)));
          continue;
        }
        const binding = await this.d.bindingFor(m.serverId, hosts[0]!.name);
        if (binding && 'holdBack' in binding) {
          settled.push(this.holdBack(m, binding).finally(() => this.finish(m)));
          continue;
        }
        this.enqueue(hosts, binding, m, transport);
      }
      await Promise.all(settled);
    } catch (err) {
      this.d.logger.error({ error: (err as Error).message }, 'dispatching leased messages failed');
      const stranded = leased.filter((m) => !handedOver.has(m.messageId) && this.holding.has(m.messageId));
      await Promise.all(stranded.map((m) => this.d.queue.release(m.messageId, 60).catch(() => undefined)));
      stranded.forEach((m) => this.finish(m));
    }
  }

  /** Not now and not an attempt (shaping said so): the message goes back to the queue for a while. */
  private async holdBack(m: Deliverable, why: HoldBack): Promise<void> {
    this.d.logger.info(
      { messageId: m.messageId, retryInSeconds: why.retryInSeconds },
      `message waits: ${why.holdBack}`,
    );
    await this.d.queue.release(m.messageId, why.retryInSeconds);
  }

  /**
   * The transport of a routed domain: the configured TLS policy, or its MTA-STS policy (MX routes
   * only: a smart host and an address literal are the operator's choice, not the domain's).
   */
  private async transport(domain: string, route: Route, message: MessageTls = {}): Promise<Transport> {
    const configured = {
      tls: this.d.tlsPolicyFor(domain),
      source: this.d.tlsPolicySourceFor?.(domain) ?? ('default' as const),
    };
    const byMx = route.kind === 'deliver' && (route.via === 'mx' || route.via === 'implicit-mx');
    const sts =
      this.d.mtaSts && byMx && configured.source === 'default'
        ? await this.d.mtaSts.policyFor(domain).catch((err: Error) => {
            this.d.logger.warn({ domain, error: err.message }, 'MTA-STS look-up failed');
            return undefined;
          })
        : undefined;
    const dane =
      this.d.dane && byMx && configured.source === 'default' && route.kind === 'deliver'
        ? await this.d.dane.planFor(domain, route.hosts, route.via === 'mx' ? 'mx' : 'implicit-mx')
        : undefined;
    return planMessageTransport(domain, configured, sts, message, dane);
  }

  /** DANE: the domain's MX answer failed DNSSEC validation, so no MX host can be trusted: deferred. */
  private async refuseBogusMx(m: Deliverable, transport: Transport, failure: TlsFailure): Promise<void> {
    await this.defer(
      m,
      {
        attempt: m.attempt,
        durationMs: 0,
        at: this.d.clock.now().toISOString(),
        tlsPolicy: { domain: transport.applied.domain, source: 'dns', policy: 'dane', failure },
      },
      `DANE: ${failure.detail}`,
    );
  }

  /** MTA-STS enforce and no MX host the policy lists: deferred (then failed), never sent elsewhere. */
  private async refuseUnlistedMx(m: Deliverable, hosts: RouteHost[], transport: Transport): Promise<void> {
    const detail = `no MX host of ${m.recipientDomain} (${hosts.map((h) => h.name).join(', ')}) is listed in its MTA-STS policy (mx: ${transport.sts?.mx.join(', ')})`;
    const at = this.d.clock.now().toISOString();
    await this.defer(
      m,
      {
        attempt: m.attempt,
        durationMs: 0,
        at,
        tlsPolicy: { ...transport.applied, failure: { type: 'validation-failure', detail } },
      },
      `MTA-STS (enforce): ${detail}`,
    );
  }

  private readonly destinations = new Map<string, Destination>();

  /** Adds a message to its destination's queue and opens connections as the queue grows. */
  private enqueue(hosts: RouteHost[], binding: Binding | undefined, m: Deliverable, transport: Transport): void {
    // one queue per destination and sending address: a pool's addresses do not share connections
    // … and per transport: a domain that requires (or verifies) TLS never rides an opportunistic connection
    const key = `${hosts[0]!.name}:${hosts[0]!.port}|${binding?.address ?? ''}|${transportKey(transport)}`;
    let dest = this.destinations.get(key);
    if (!dest) {
      dest = { key, hosts, transport, binding, queue: [], connections: 0 };
      this.destinations.set(key, dest);
    }
    dest.hosts = hosts;
    dest.queue.push(m);
    // one connection per few queued messages, up to the destination's limit (the shaper may allow fewer)
    const wanted = Math.min(this.d.connectionsPerDestination, Math.ceil(dest.queue.length / 5));
    while (dest.connections < wanted) this.startConnection(dest);
  }

  private startConnection(dest: Destination): void {
    dest.connections++;
    const ended = this.connectionLoop(dest).catch((err: Error) => {
      this.d.logger.error({ destination: dest.hosts[0]!.name, error: err.message }, 'an SMTP connection loop failed');
      return 'failed' as const;
    });
    this.track(
      ended.then(async (how) => {
        dest.connections--;
        if (dest.queue.length === 0 || dest.connections > 0) return this.forgetIfIdle(dest);
        // the last connection ended with work left: rotate (it carried its share) or give up for now
        if (how === 'rotated' && !this.stopping) return this.startConnection(dest);
        // it had found the queue empty, and these came while it closed (waiting for its last outcome to be
        // recorded): enqueue() saw it open and started none. A new one carries them; they were never tried.
        if (how === 'drained') {
          if (!this.stopping) return this.startConnection(dest);
          for (const m of dest.queue.splice(0)) {
            await this.d.queue.release(m.messageId).catch(() => undefined);
            this.finish(m);
          }
          return this.forgetIfIdle(dest);
        }
        for (const m of dest.queue.splice(0)) {
          try {
            await this.defer(
              m,
              {
                attempt: m.attempt,
                mxHost: dest.hosts[0]!.name,
                durationMs: 0,
                at: this.d.clock.now().toISOString(),
                tlsPolicy: dest.transport.applied,
              },
              'the connection to the destination kept breaking',
            );
          } finally {
            this.finish(m);
          }
        }
        this.forgetIfIdle(dest);
      }),
    );
  }

  /**
   * A destination with no connection and nothing queued is dropped (the next message for it makes
   * it anew): over its life an MTA sends to ever more MX hosts, and keeping each would grow without
   * bound.
   */
  private forgetIfIdle(dest: Destination): void {
    if (dest.connections === 0 && dest.queue.length === 0 && this.destinations.get(dest.key) === dest)
      this.destinations.delete(dest.key);
  }

  /** How many destinations have messages queued or connections open (for tests). */
  get openDestinations(): number {
    return this.destinations.size;
  }

  /** One SMTP connection: carries queued messages of its destination until the queue is empty. */
  private async connectionLoop(dest: Destination): Promise<'drained' | 'rotated' | 'failed'> {
    const destination = dest.hosts[0]!.name;
    const release = await this.d.shaper.acquireConnection(destination);
    let session:
      | { session: SmtpSession; host: RouteHost; transport: Transport['applied']; tlsFailure?: TlsFailure }
      | undefined;
    let carried = 0;
    let reopened = 0;
    let lastRecord: Promise<void> = Promise.resolve();
    try {
      const perConnection = this.d.messagesPerConnectionFor?.(destination) ?? this.d.messagesPerConnection;
      while (dest.queue.length > 0 && carried < perConnection) {
        if (!session?.session.usable) {
          const opened = await this.open(dest.hosts, dest.queue[0]!.recipientDomain, dest.binding, dest.transport);
          if ('error' in opened) {
            // other connections to it still work: leave the queue to them
            if (dest.connections > 1) return 'failed';
            // the destination is unreachable: everything waiting for it is deferred (REQUIRETLS refused: bounced)
            for (const m of dest.queue.splice(0)) {
              try {
                const delivery = {
                  attempt: m.attempt,
                  mxHost: destination,
                  durationMs: opened.ms,
                  at: this.d.clock.now().toISOString(),
                  tlsPolicy: {
                    ...(opened.applied ?? dest.transport.applied),
                    ...(opened.tlsFailure ? { failure: opened.tlsFailure } : {}),
                  },
                };
                if (opened.requireTlsRefused) await this.bounceRequireTls(m, delivery, opened.error);
                else await this.defer(m, delivery, opened.error);
              } finally {
                this.finish(m);
              }
            }
            return 'failed';
          }
          session = { ...opened, transport: appliedFor(opened.host.name, dest.transport) };
        }
        // take a few at a time so their contents come with one query
        const batch = dest.queue.splice(0, Math.min(10, perConnection - carried));
        let bodies: Map<string, Buffer>;
        try {
          bodies = await this.d.contents.getMany(batch.map((m) => m.contentHash));
        } catch (err) {
          dest.queue.unshift(...batch);
          throw err;
        }
        for (const [i, m] of batch.entries()) {
          if (!session.session.usable) {
            await lastRecord;
            dest.queue.unshift(...batch.slice(i)); // the rest goes over the next connection
            break;
          }
          let result: Outcome | 'connection-lost';
          /** a delivered message's outcome append, which may still be retried after deliverOne returns */
          let recording: Promise<void> = Promise.resolve();
          try {
            result = await this.deliverOne(
              session.session,
              session.host,
              { ...session.transport, ...(session.tlsFailure ? { failure: session.tlsFailure } : {}) },
              m,
              bodies.get(m.contentHash),
              lastRecord,
              (p) => (lastRecord = recording = p),
            );
          } catch (err) {
            // preparing or recording this one failed: give it back to the queue for a later try
            this.d.logger.error(
              { messageId: m.messageId, error: (err as Error).message },
              'delivering a message failed',
            );
            await this.d.queue.release(m.messageId, 60).catch(() => undefined);
            result = 'skipped';
          } finally {
            carried++;
            // held (its lease renewed) until its outcome is in the log: a lease that ran out while
            // the append is retried would send it again
            void recording.finally(() => this.finish(m));
          }
          if (result === 'connection-lost' && reopened++ >= 2) {
            dest.queue.unshift(...batch.slice(i + 1));
            return 'failed';
          }
        }
      }
      return dest.queue.length > 0 ? 'rotated' : 'drained';
    } finally {
      await lastRecord;
      session?.session.close();
      release();
    }
  }

  /**
   * The leased messages that may still be sent, with their state: the one the queue kept where the
   * stream has not moved since, else read (one look at the revisions, one read for the rest). One
   * that was held, cancelled or finished since it was queued goes back: the queue projection is
   * about to catch up with it.
   */
  private async deliverable(leased: LeasedMessage[]): Promise<Deliverable[]> {
    const loaded = await loadMessagesKept(this.d.eventStore, leased);
    const out: Deliverable[] = [];
    for (const m of leased) {
      const l = loaded.get(m.messageId);
      const live = l?.ok && (l.value.state.status === 'queued' || l.value.state.status === 'deferred');
      if (live && (await this.d.mayDeliver(m.serverId)))
        out.push({ ...m, loaded: l.value, attempt: l.value.state.attempts + 1 });
      else if (live) {
        await this.d.queue.release(m.messageId, 300);
        this.finish(m);
      } else {
        await this.d.queue.release(m.messageId, 30);
        this.finish(m);
      }
    }
    return out;
  }

  /** DNS said "never" (bounce) or "not now" (defer): no SMTP session at all. */
  private async settleWithoutSession(m: Deliverable, route: Exclude<Route, { kind: 'deliver' }>): Promise<void> {
    const delivery: DeliveryAttempt = { attempt: m.attempt, durationMs: 0, at: this.d.clock.now().toISOString() };
    if (route.kind === 'bounce') {
      await this.record(m, 'bounced', {
        type: 'RecordBounce',
        kind: 'sync',
        delivery,
        enhancedCode: route.enhancedCode,
        diagnostic: route.reason,
        classification: 'dns',
        suppress: false,
        at: delivery.at,
      });
      return;
    }
    await this.defer(m, delivery, route.reason);
  }

  /**
   * Tries the hosts in preference order (and each host's addresses) until one answers. Under
   * MTA-STS the session is judged before any mail goes over it: enforce closes one that fails and
   * tries the next host; testing keeps it and the failure is recorded. A DANE host must offer TLS
   * whose certificate its TLSA records match, else it is closed and the next host tried; a host
   * whose TLSA answer is bogus is not tried at all (RFC 7672 §2.2).
   */
  private async open(
    hosts: RouteHost[],
    domain: string,
    binding: Binding | undefined,
    transport: Transport,
  ): Promise<
    | { session: SmtpSession; host: RouteHost; tlsFailure?: TlsFailure }
    | {
        error: string;
        ms: number;
        tlsFailure?: TlsFailure;
        applied?: Transport['applied'];
        requireTlsRefused?: boolean;
      }
  > {
    const started = performance.now();
    const errors: string[] = [];
    let tlsFailure: TlsFailure | undefined;
    let daneFailure: TlsFailure | undefined;
    // REQUIRETLS: a host that answered but refused it (TLS, certificate, no REQUIRETLS) vs one that did not answer
    let refusedRequireTls = false;
    let unreachable = false;
    for (const host of hosts) {
      const dane = transport.dane?.get(host.name);
      if (dane?.kind === 'bogus') {
        daneFailure = { type: 'dnssec-invalid', detail: dane.detail };
        errors.push(`${host.name}: ${dane.detail}`);
        continue;
      }
      for (const address of host.addresses) {
        try {
          const session = await SmtpSession.open({
            host: address,
            servername: host.name,
            port: host.port,
            ehloName: binding?.ehlo ?? this.d.hostname,
            localAddress: binding?.address,
            tls: dane ? 'require' : transport.tls,
            auth: this.d.smartHostAuth,
            secure: this.d.smartHostSecure ?? false,
            ...(transport.sts || transport.requireTls || dane
              ? { verifyAfterHandshake: true, ca: this.d.caCertificates }
              : {}),
            ...(transport.requireTls ? { requireTlsExtension: true } : {}),
          });
          if (dane) {
            const mismatch = verifyDane(host.name, session.peerChain, dane.records, this.d.clock.now());
            if (!mismatch) return { session, host };
            session.close();
            daneFailure = mismatch;
            errors.push(`${host.name} [${address}]: ${mismatch.type}: ${mismatch.detail}`);
            continue;
          }
          const failure = judgeSession(host.name, session.tlsVerdict, transport);
          if (failure && (transport.sts?.mode === 'enforce' || transport.requireTls)) {
            session.close();
            tlsFailure = failure;
            refusedRequireTls ||= transport.requireTls === true;
            errors.push(`${host.name} [${address}]: ${failure.type}: ${failure.detail}`);
            continue;
          }
          if (transport.requireTls && !session.offersRequireTls) {
            session.close();
            refusedRequireTls = true;
            errors.push(`${host.name} [${address}]: does not offer REQUIRETLS`);
            continue;
          }
          return { session, host, ...(failure ? { tlsFailure: failure } : {}) };
        } catch (err) {
          const e = err as Error & { response?: string; responseCode?: number; code?: string };
          errors.push(`${host.name} [${address}]: ${e.response ?? e.message}`);
          // required STARTTLS that the host did not offer (nodemailer's ETLS before any handshake)
          if (dane && e.code === 'ETLS')
            daneFailure = { type: 'starttls-not-supported', detail: `${host.name}: ${e.message}` };
          else if ((transport.sts || transport.requireTls) && e.code === 'ETLS')
            tlsFailure = { type: 'starttls-not-supported', detail: `${host.name}: ${e.message}` };
          if (transport.requireTls && e.code === 'ETLS') refusedRequireTls = true;
          else unreachable = true;
          if (e.responseCode)
            this.d.shaper.answered(host.name, { code: e.responseCode, text: e.response ?? e.message });
        }
      }
    }
    const ms = Math.round(performance.now() - started);
    if (daneFailure)
      return {
        error: `DANE: no MX host of ${domain} could be used securely: ${errors.join('; ')}`,
        ms,
        tlsFailure: daneFailure,
        applied: { domain: transport.applied.domain, source: 'dns', policy: 'dane' },
      };
    // RFC 8689 §4.2.1: every host that answered refused what REQUIRETLS needs; one that did not answer may yet
    if (transport.requireTls && refusedRequireTls && !unreachable)
      return {
        error: `REQUIRETLS: no host of ${domain} offered verified TLS and REQUIRETLS: ${errors.join('; ')}`,
        ms,
        ...(tlsFailure ? { tlsFailure } : {}),
        requireTlsRefused: true,
      };
    if (transport.sts?.mode === 'enforce' && tlsFailure)
      return {
        error: `MTA-STS (enforce): no MX host of ${domain} offered valid TLS: ${errors.join('; ')}`,
        ms,
        tlsFailure,
      };
    return { error: `no MX host answered: ${errors.join('; ')}`, ms };
  }

  /**
   * `previous` is the outcome append of the message sent before on this connection: it must be in
   * the log before the next message goes out (while it commits, this one is signed), so a crash
   * can cost at most the one message whose answer just came in.
   */
  private async deliverOne(
    session: SmtpSession,
    host: RouteHost,
    tlsPolicy: Transport['applied'],
    m: Deliverable,
    raw: Buffer | undefined,
    previous: Promise<void>,
    onRecorded: (p: Promise<void>) => void,
  ): Promise<Outcome | 'connection-lost'> {
    const attempt = m.attempt;
    if (!raw) {
      await this.record(m, 'failed', {
        type: 'RecordFailure',
        reason: 'the message content is gone (retention)',
        at: this.d.clock.now().toISOString(),
      });
      return 'failed';
    }
    const fromDomain = m.mailFrom.slice(m.mailFrom.lastIndexOf('@') + 1);
    const sending = await this.d.tenancy.sendingDomain(m.serverId, fromDomain);
    const prepared = await prepareForDelivery({
      raw,
      messageId: m.messageId,
      token: m.token,
      rcptTo: m.rcptTo,
      domain: fromDomain,
      returnPathDomain: sending?.returnPathDomain ?? this.d.hostname,
      signingKeys: sending?.signingKeys ?? [],
      hostname: this.d.hostname,
      now: this.d.clock.now(),
    });
    // mail from our own host name (a DSN from postmaster@ it) has no sending domain: unsigned by design
    if (!sending && fromDomain.toLowerCase() !== this.d.hostname.toLowerCase())
      this.d.logger.warn(
        { messageId: m.messageId, domain: fromDomain },
        'the sending domain is gone: delivering without DKIM',
      );
    await this.d.shaper.beforeMessage(host.name);
    await previous;
    const started = performance.now();
    const outcome: SendOutcome = await session.send(prepared.envelopeFrom, m.rcptTo, prepared.message);
    const delivery: DeliveryAttempt = {
      attempt,
      mxHost: host.name,
      ...(session.remoteAddress ? { remoteIp: session.remoteAddress } : {}),
      ...(session.localAddress ? { localIp: session.localAddress } : {}),
      tls: session.tls,
      tlsPolicy,
      ...(outcome.ok || outcome.kind === 'reply'
        ? {
            reply: {
              code: outcome.reply.code,
              ...(outcome.reply.enhancedCode ? { enhancedCode: outcome.reply.enhancedCode } : {}),
              text: outcome.reply.text,
            },
          }
        : {}),
      durationMs: Math.round(performance.now() - started),
      at: this.d.clock.now().toISOString(),
    };
    const decided = decideOutcome(outcome, delivery, m, this.d.retryPolicy, this.d.clock.now());
    if (decided.outcome === 'delivered') {
      this.d.shaper.succeeded(host.name);
      onRecorded(this.record(m, 'delivered', decided.command));
      return 'delivered';
    }
    if (decided.outcome === 'bounced') {
      await this.record(m, 'bounced', decided.command);
      if (decided.suppress) await this.d.suppressions.add(m.serverId, m.rcptTo, decided.suppress);
      return 'bounced';
    }
    // a slow-down answer (or one of the provider's back-off replies) pauses its bucket
    if (!outcome.ok && outcome.kind === 'reply') this.d.shaper.answered(host.name, outcome.reply);
    await this.record(m, decided.outcome, decided.command);
    return decided.connectionLost ? 'connection-lost' : decided.outcome;
  }

  /** A REQUIRETLS message no host can take as RFC 8689 asks: returned with 5.7.30 (§6). */
  private async bounceRequireTls(m: Deliverable, delivery: DeliveryAttempt, reason: string): Promise<void> {
    await this.record(m, 'bounced', {
      type: 'RecordBounce',
      kind: 'sync',
      delivery,
      enhancedCode: REQUIRETLS_STATUS,
      diagnostic: `550 ${REQUIRETLS_STATUS} REQUIRETLS support required: ${reason}`,
      classification: 'policy',
      suppress: false,
      at: delivery.at,
    });
  }

  private async defer(m: Deliverable, delivery: DeliveryAttempt, reason: string): Promise<void> {
    const decided = retryOrGiveUp(reason, delivery, m, this.d.retryPolicy, this.d.clock.now(), false, false);
    await this.record(m, decided.outcome, decided.command);
  }

  /**
   * Appends the outcome. Within a connection the next message is prepared while this append commits
   * (the group commit takes it with its neighbours), and sent once it is in (deliverOne's `previous`).
   */
  private record(m: Deliverable, outcome: Outcome, command: MessageCommandInput): Promise<void> {
    const p = this.recordUntilTaken(m, outcome, command);
    this.pendingRecords.add(p);
    void p.finally(() => this.pendingRecords.delete(p));
    return p;
  }

  /**
   * An outcome the log refuses (PostgreSQL restarting, or out of disk) is kept here and appended
   * again with back-off until the log takes it; meanwhile the message stays held (its lease renewed)
   * and its connection sends nothing new, since the next message waits for this append. Letting it
   * go instead (as before) sent it again when its lease ran out, and every message its connection
   * carried during the outage with it: a 7 s full disk repeated 39 messages in a chaos run. Given up
   * only when the worker is stopping and the log still refuses: then the lease sends it again, one
   * message per connection, as a crash would.
   */
  private async recordUntilTaken(m: Deliverable, outcome: Outcome, command: MessageCommandInput): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.recordNow(m, outcome, command);
        if (attempt > 1)
          this.d.logger.info(
            { messageId: m.messageId, outcome, attempts: attempt },
            'the delivery outcome was recorded after the log had refused it',
          );
        return;
      } catch (err) {
        const error = (err as Error).message;
        if (this.stopping && performance.now() - this.stoppingSince > RECORD_GRACE_ON_STOP_MS) {
          this.d.logger.error(
            { messageId: m.messageId, outcome, error },
            'the delivery outcome could not be recorded before stopping: the message will be tried again',
          );
          return;
        }
        if (attempt === 1)
          this.d.logger.warn(
            { messageId: m.messageId, outcome, error },
            'the delivery outcome could not be recorded: retrying until the log takes it',
          );
        await this.pauseBeforeRetry(recordBackOffMs(attempt));
      }
    }
  }

  private readonly pendingRecords = new Set<Promise<void>>();

  /**
   * The pause before a refused outcome's next append: on the worker's clock, cut short by stop();
   * once stopping, in real time, as the grace is (a test's clock may never move again).
   */
  private pauseBeforeRetry(ms: number): Promise<void> {
    if (this.stopping) return new Promise((resolve) => setTimeout(resolve, ms));
    return Promise.race([this.d.clock.sleep(ms), this.stopped]);
  }

  private wakeOnStop: () => void = () => undefined;
  /** Resolved by stop(): wakes outcomes waiting to be appended again. */
  private readonly stopped = new Promise<void>((resolve) => (this.wakeOnStop = resolve));

  private async recordNow(m: Deliverable, outcome: Outcome, command: MessageCommandInput): Promise<void> {
    const result = await handleMessageCommand(
      this.d.eventStore,
      m.messageId,
      command,
      { serverId: m.serverId, actor: `mta:${this.d.hostname}`, correlationId: `delivery-${m.messageId}` },
      5,
      m.loaded,
    );
    this.d.metrics.deliveries.inc({ outcome });
    if (!result.ok)
      this.d.logger.warn(
        { messageId: m.messageId, outcome, error: result.error },
        'the delivery outcome could not be recorded',
      );
    else
      this.d.logger.info(
        { messageId: m.messageId, rcpt: m.rcptTo, outcome, attempt: m.attempt, ...whatHappened(command) },
        `message ${outcome}`,
      );
  }
}

/** How a message asks for its TLS (RFC 8689), from its MessageAccepted. */
function tlsOf(m: Deliverable): MessageTls {
  return { requireTls: m.loaded.state.requireTls, tlsOptional: m.loaded.state.tlsOptional };
}

/** Messages of a domain share a transport unless they ask for their own TLS. */
function transportKeyOf(m: Deliverable): string {
  return `${m.recipientDomain}|${m.loaded.state.requireTls ? 'requiretls' : ''}|${m.loaded.state.tlsOptional ? 'tls-optional' : ''}`;
}

/** How long a stopping worker still retries outcomes the log refuses (a database restarting with it). */
const RECORD_GRACE_ON_STOP_MS = 5_000;

/** The pause before an outcome's next append: 0.2 s, doubling, at most 5 s. */
function recordBackOffMs(attempt: number): number {
  return Math.min(5_000, 200 * 2 ** Math.min(attempt - 1, 5));
}

/** What an operator reads first in a delivery's log line: the remote server's answer, or our reason. */
function whatHappened(command: MessageCommandInput): { mx?: string; reply?: string; reason?: string } {
  const delivery = 'delivery' in command ? command.delivery : undefined;
  const reply = delivery?.reply;
  return {
    ...(delivery?.mxHost ? { mx: delivery.mxHost } : {}),
    ...(reply
      ? { reply: `${reply.code}${reply.enhancedCode ? ` ${reply.enhancedCode}` : ''} ${reply.text}`.slice(0, 300) }
      : {}),
    ...('reason' in command && typeof command.reason === 'string' ? { reason: command.reason } : {}),
    ...('diagnostic' in command && !reply ? { reason: command.diagnostic } : {}),
  };
}
