import type { KeyObject } from 'node:crypto';
import { loggableUrl, type JsonPoster } from '../../infra/http/outbound.js';
import type { Logger } from '../../infra/logging/index.js';
import type { Metrics } from '../../infra/metrics/index.js';
import { MicroBatcher } from '../../infra/batching/index.js';
import type {
  AttemptOutcome,
  LeasedDelivery,
  RetryPolicy,
  WebhookOutbox,
} from '../../infra/webhooks/webhook-outbox.js';
import type { SecretBox } from '../../infra/secrets/index.js';
import { ecdsaPrivateKey } from '../../infra/webhooks/ecdsa-keys.js';
import type { SigningKeys } from '../../infra/webhooks/signing-keys.js';
import { webhookSigners } from '../../infra/webhooks/signers/index.js';

export interface WebhookDispatcherDeps {
  outbox: WebhookOutbox;
  keys: SigningKeys;
  /** Opens the endpoints' sealed ECDSA keys (the 'sendgrid' format). */
  secrets: SecretBox;
  poster: JsonPoster;
  logger: Logger;
  metrics: Metrics;
  policy: RetryPolicy;
  /** Requests in flight at once. */
  concurrency: number;
  pollMs: number;
  /** How long a leased delivery stays this process's (longer than a request may take). */
  leaseSeconds: number;
  logDays: number;
}

/**
 * Sends the webhook outbox: leases due deliveries, POSTs each signed body to its endpoint (any 2xx
 * is success; anything else, a timeout or a refused connection is a failure), and records the
 * attempt. Several processes share the outbox; each keeps up to `concurrency` requests in flight
 * and asks for more as soon as one finishes.
 */
export class WebhookDispatcher {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastPrune = 0;
  /** Endpoints' opened ECDSA keys, by sealed key (a new key pair is a new entry). */
  private readonly ecdsaKeys = new Map<string, KeyObject>();
  /** Outcomes finishing together are recorded in one transaction (one commit, not one per request). */
  private readonly settler: MicroBatcher<
    { delivery: LeasedDelivery; outcome: AttemptOutcome },
    { status: 'delivered' | 'pending' | 'failed'; circuitOpened: boolean }
  >;

  constructor(private readonly d: WebhookDispatcherDeps) {
    this.settler = new MicroBatcher((items) => d.outbox.settle(items, d.policy), 200);
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    this.d.poster.close();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    // lease in batches: refill once half the slots are free, not after every single request
    const refillAt = this.d.concurrency - Math.max(1, Math.floor(this.d.concurrency / 2));
    while (!this.stopped) {
      try {
        await this.pruneNowAndThen();
        const free = this.d.concurrency - inFlight.size;
        const leased = free > 0 ? await this.d.outbox.lease(free, this.d.leaseSeconds) : [];
        for (const delivery of leased) {
          const p: Promise<void> = this.send(delivery)
            .catch((err: Error) =>
              this.d.logger.error(
                { delivery: delivery.id, error: err.message },
                'webhook attempt failed unexpectedly; the delivery is tried again once its lease ends',
              ),
            )
            .finally(() => {
              inFlight.delete(p);
              if (inFlight.size <= refillAt) this.wake?.();
            });
          inFlight.add(p);
        }
        if (this.stopped) break;
        if (leased.length === 0) await this.sleep(this.d.pollMs);
        else if (inFlight.size > refillAt) await this.sleep(60_000); // woken when half the slots are free
      } catch (err) {
        this.d.logger.error({ error: (err as Error).message }, 'webhook dispatch failed');
        await this.sleep(Math.max(this.d.pollMs, 1000));
      }
    }
    await Promise.all(inFlight);
  }

  private async pruneNowAndThen(): Promise<void> {
    if (Date.now() - this.lastPrune < 3600_000) return;
    this.lastPrune = Date.now();
    let pruned = 0;
    // in chunks, so no single statement holds locks for long
    for (let n = 10_000; n === 10_000 && !this.stopped; pruned += n) n = await this.d.outbox.prune(this.d.logDays);
    if (pruned > 0) this.d.logger.info({ pruned }, 'pruned old webhook deliveries');
  }

  /** The endpoint's ECDSA private key, opened once. */
  private ecdsaKeyOf(delivery: LeasedDelivery): KeyObject | undefined {
    const sealed = delivery.sealedEcdsaKey;
    if (!sealed) return undefined;
    let key = this.ecdsaKeys.get(sealed);
    if (!key) {
      const pem = this.d.secrets.open(sealed, delivery.endpointId);
      if (!pem.ok) throw new Error(`the endpoint's ECDSA key does not open: ${pem.error.message}`);
      key = ecdsaPrivateKey(pem.value);
      if (this.ecdsaKeys.size > 10_000) this.ecdsaKeys.clear();
      this.ecdsaKeys.set(sealed, key);
    }
    return key;
  }

  /** Signs the delivery as its body's format is signed and POSTs it; a failure to sign or to connect throws. */
  private async attempt(delivery: LeasedDelivery, started: number): Promise<AttemptOutcome> {
    const timestamp = Math.floor(Date.now() / 1000);
    // the format's signature; its body is the stored one (Mailgun's with the attempt's signature block in it)
    const signed = await webhookSigners[delivery.format]({
      delivery,
      timestamp,
      postalKey: () => this.d.keys.key(),
      ecdsaKey: () => this.ecdsaKeyOf(delivery),
    });
    const headers = {
      'user-agent': 'Postlog',
      ...signed.headers,
      'x-postlog-event-id': delivery.eventId,
      'x-postlog-delivery-id': delivery.id,
      'x-postlog-event': delivery.event,
      'x-postlog-attempt': String(delivery.attempts + 1),
    };
    const res = await this.d.poster.post(delivery.url, signed.body, headers);
    const ok = res.status >= 200 && res.status < 300;
    return {
      ok,
      statusCode: res.status,
      response: res.excerpt,
      error: ok ? null : `the endpoint answered ${res.status}`,
      durationMs: performance.now() - started,
    };
  }

  private async send(delivery: LeasedDelivery): Promise<void> {
    if (delivery.unreadableSecret) {
      // a wrong secrets key: an attempt that fails with the reason (retried; the key may come back)
      this.d.logger.error({ delivery: delivery.id, endpoint: delivery.endpointId }, delivery.unreadableSecret);
      const outcome = { ok: false, statusCode: null, response: null, error: delivery.unreadableSecret, durationMs: 0 };
      await this.settler.call({ delivery, outcome });
      return;
    }
    const started = performance.now();
    let outcome: AttemptOutcome;
    try {
      outcome = await this.attempt(delivery, started);
    } catch (err) {
      outcome = {
        ok: false,
        statusCode: null,
        response: null,
        error: (err as Error).message.slice(0, 1000),
        durationMs: performance.now() - started,
      };
    }
    this.d.metrics.webhookAttemptSeconds.observe(
      { outcome: outcome.ok ? 'success' : 'failure' },
      outcome.durationMs / 1000,
    );
    const settled = await this.settler.call({ delivery, outcome });
    this.d.metrics.webhookDeliveries.inc({ outcome: settled.status === 'pending' ? 'retry' : settled.status });
    if (!outcome.ok) {
      const log = {
        delivery: delivery.id,
        endpoint: delivery.endpointId,
        url: loggableUrl(delivery.url),
        code: outcome.statusCode,
        error: outcome.error,
        attempt: delivery.attempts + 1,
      };
      if (settled.status === 'failed') this.d.logger.warn(log, 'webhook given up');
      else this.d.logger.info(log, 'webhook attempt failed; retrying later');
    }
    if (settled.circuitOpened) {
      this.d.metrics.webhookCircuitOpened.inc();
      this.d.logger.warn(
        {
          endpoint: delivery.endpointId,
          url: loggableUrl(delivery.url),
          cooldownSeconds: this.d.policy.breakerCooldownSeconds,
        },
        'webhook endpoint keeps failing: circuit open, endpoint paused',
      );
    }
  }
}
