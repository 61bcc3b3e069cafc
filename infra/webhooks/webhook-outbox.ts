// biome-ignore-all lint/suspicious/noExplicitAny: the row mappers take pg rows, which are untyped; each mapper is where a row gets its type
import type pg from 'pg';
import type { WebhookFormat } from '../../domain/index.js';
import { inTransaction } from '../postgres/transaction.js';
import { openSealed, type SecretBox } from '../secrets/index.js';
import { webhookSecretContext } from './sealed-secrets.js';

export interface LeasedDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  event: string;
  url: string;
  /** The current secret, and the previous one while a rotation's grace lasts. */
  secrets: string[];
  /** Set when a secret does not open (a wrong secrets key): the attempt fails with this, nothing is sent. */
  unreadableSecret?: string;
  body: string;
  attempts: number;
  /** The format the body was made in, which says how the attempt is signed. */
  format: WebhookFormat;
  /** The endpoint's sealed ECDSA private key (the 'sendgrid' format; SecretBox, the endpoint id as context). */
  sealedEcdsaKey: string | null;
}

export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  durationMs: number;
  response: string | null;
  error: string | null;
}

export interface RetryPolicy {
  /** Seconds after attempt 1, 2, …; the last one repeats. */
  delaysSeconds: number[];
  /** Give up once a retry would come later than this after the event (or its redelivery). */
  maxAgeSeconds: number;
  /** Consecutive failures of an endpoint that open its circuit. */
  breakerFailures: number;
  breakerCooldownSeconds: number;
}

/**
 * A pending delivery may go when it is due, its endpoint is enabled, and no earlier event of the same
 * message is still pending for that endpoint (per-message order: a later event waits until the
 * earlier one was delivered or given up).
 */
// (the endpoint is compared as text so that no plan can answer this through the endpoint's due index,
// which a table without statistics yet makes look cheap: it must go by the message, a handful of rows)
const ELIGIBLE = `w.status = 'pending' AND w.next_attempt_at <= now() AND (w.lease_until IS NULL OR w.lease_until < now())
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.stream_id = w.stream_id AND p.endpoint_id::text = w.endpoint_id::text AND p.status = 'pending' AND p.stream_revision < w.stream_revision)`;

const RETURNING = `RETURNING d.id, d.endpoint_id, d.event_id, d.webhook_event, d.body, d.attempts, d.format,
  (SELECT e.url FROM webhook_endpoints e WHERE e.id = d.endpoint_id) AS url,
  (SELECT json_build_array(json_build_object('plaintext', e.secret, 'sealed', e.secret_sealed),
            CASE WHEN e.previous_secret_until > now()
                 THEN json_build_object('plaintext', e.previous_secret, 'sealed', e.previous_secret_sealed) END)
     FROM webhook_endpoints e WHERE e.id = d.endpoint_id) AS stored_secrets,
  (SELECT e.ecdsa_private_key FROM webhook_endpoints e WHERE e.id = d.endpoint_id) AS ecdsa_private_key`;

type StoredSecret = { plaintext: string | null; sealed: string | null } | null;

/** A leased row with its endpoint's secrets opened (the current one first). */
function toLeased(r: any, box: SecretBox): LeasedDelivery {
  const secrets: string[] = [];
  let unreadable: string | undefined;
  for (const stored of (r.stored_secrets ?? []) as StoredSecret[]) {
    if (!stored) continue;
    const opened = openSealed(box, stored, webhookSecretContext(r.endpoint_id));
    if (!opened.ok) unreadable ??= `the endpoint's signing secret does not open: ${opened.error.message}`;
    else if (opened.value !== null) secrets.push(opened.value);
  }
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: r.event_id,
    event: r.webhook_event,
    url: r.url,
    secrets,
    ...(unreadable ? { unreadableSecret: unreadable } : {}),
    body: r.body,
    attempts: r.attempts,
    format: r.format,
    sealedEcdsaKey: r.ecdsa_private_key ?? null,
  };
}

/**
 * The dispatcher's side of the webhook outbox: leasing due deliveries (`FOR UPDATE SKIP LOCKED`,
 * so processes share the work), recording each attempt's outcome with the retry schedule and the
 * endpoint's circuit breaker, and pruning the log.
 */
export class WebhookOutbox {
  /** `secrets` opens the endpoints' signing secrets. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: SecretBox,
  ) {}

  /**
   * Takes up to `limit` due deliveries for `leaseSeconds` (a process that dies loses them after
   * that). Endpoints whose circuit is open are skipped; one whose cool-down passed (half-open) gets
   * exactly one probe delivery, and stays paused while it is in flight.
   */
  async lease(limit: number, leaseSeconds: number): Promise<LeasedDelivery[]> {
    const probes = await this.leaseProbes(leaseSeconds);
    if (probes.length >= limit) return probes;
    // endpoint by endpoint (in random order, so a busy one cannot starve the others), each through its
    // own index range: a paused or disabled endpoint's backlog is never scanned
    const { rows } = await this.pool.query(
      `WITH due AS (
         SELECT taken.id FROM (SELECT id FROM webhook_endpoints WHERE enabled AND paused_until IS NULL ORDER BY random()) e
         CROSS JOIN LATERAL (
           SELECT w.id FROM webhook_deliveries w WHERE w.endpoint_id = e.id AND ${ELIGIBLE}
            ORDER BY w.next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) taken
         LIMIT $1)
       UPDATE webhook_deliveries d SET lease_until = now() + make_interval(secs => $2) FROM due WHERE d.id = due.id
       ${RETURNING}`,
      [limit - probes.length, leaseSeconds],
    );
    return [...probes, ...rows.map((r) => toLeased(r, this.secrets))];
  }

  private async leaseProbes(leaseSeconds: number): Promise<LeasedDelivery[]> {
    // claiming a half-open endpoint (moving its pause on by a lease) makes this process its only prober;
    // should the probe not be leased after all, the endpoint is probed again once that lease has passed
    const { rows: endpoints } = await this.pool.query(
      `UPDATE webhook_endpoints e SET paused_until = now() + make_interval(secs => $1)
        WHERE e.enabled AND e.paused_until <= now() AND EXISTS (SELECT 1 FROM webhook_deliveries w WHERE w.endpoint_id = e.id AND ${ELIGIBLE})
        RETURNING e.id`,
      [leaseSeconds],
    );
    const out: LeasedDelivery[] = [];
    for (const { id } of endpoints) {
      const { rows } = await this.pool.query(
        `WITH due AS (SELECT w.id FROM webhook_deliveries w WHERE w.endpoint_id = $1 AND ${ELIGIBLE} ORDER BY w.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE webhook_deliveries d SET lease_until = now() + make_interval(secs => $2) FROM due WHERE d.id = due.id
         ${RETURNING}`,
        [id, leaseSeconds],
      );
      out.push(...rows.map((r) => toLeased(r, this.secrets)));
    }
    return out;
  }

  /**
   * Records the outcomes of many attempts in one transaction (in the order they finished): each
   * delivery is delivered, waits for its next retry, or is given up (failed) when that retry would
   * come after the give-up age. An endpoint's failure count resets on success; reaching the
   * threshold opens (or re-opens) its circuit.
   */
  async settle(
    items: { delivery: LeasedDelivery; outcome: AttemptOutcome }[],
    policy: RetryPolicy,
  ): Promise<{ status: 'delivered' | 'pending' | 'failed'; circuitOpened: boolean }[]> {
    if (items.length === 0) return [];
    // per endpoint: was any attempt a success, and how many failures came after the last success
    const breaker = new Map<string, { success: boolean; trailing: number }>();
    for (const { delivery, outcome } of items) {
      const b = breaker.get(delivery.endpointId) ?? { success: false, trailing: 0 };
      if (outcome.ok) breaker.set(delivery.endpointId, { success: true, trailing: 0 });
      else breaker.set(delivery.endpointId, { ...b, trailing: b.trailing + 1 });
    }
    const { rows, opened } = await inTransaction(this.pool, async (client) => {
      const retry = `($8::float8[])[least(w.retry_index + 1, cardinality($8::float8[]))]`;
      const givenUp = `w.retry_base_at + make_interval(secs => $7) < now() + make_interval(secs => ${retry})`;
      const { rows } = await client.query(
        `WITH o AS (SELECT * FROM unnest($1::uuid[], $2::bool[], $3::int[], $4::int[], $5::text[], $6::text[]) AS o(id, ok, code, ms, response, error)),
         d AS (
           UPDATE webhook_deliveries w SET
             attempts = w.attempts + 1,
             retry_index = w.retry_index + 1,
             status = CASE WHEN o.ok THEN 'delivered' WHEN ${givenUp} THEN 'failed' ELSE 'pending' END,
             next_attempt_at = now() + make_interval(secs => ${retry}),
             lease_until = NULL,
             last_status_code = o.code,
             last_error = o.error,
             finished_at = CASE WHEN o.ok OR ${givenUp} THEN now() END
           FROM o WHERE w.id = o.id
           RETURNING w.id, w.attempts, w.status, o.code, o.ms, o.response, o.error),
         a AS (
           INSERT INTO webhook_attempts (delivery_id, attempt, status_code, duration_ms, response, error)
           SELECT id, attempts, code, ms, response, error FROM d)
         SELECT id, status FROM d`,
        [
          items.map((i) => i.delivery.id),
          items.map((i) => i.outcome.ok),
          items.map((i) => i.outcome.statusCode),
          items.map((i) => Math.round(i.outcome.durationMs)),
          items.map((i) => i.outcome.response),
          items.map((i) => i.outcome.error),
          policy.maxAgeSeconds,
          policy.delaysSeconds,
        ],
      );
      const endpoints = [...breaker];
      const opened = await client.query(
        `UPDATE webhook_endpoints e SET
           consecutive_failures = CASE WHEN u.success THEN u.tail_failures ELSE e.consecutive_failures + u.tail_failures END,
           paused_until = CASE WHEN u.tail_failures > 0 AND (CASE WHEN u.success THEN u.tail_failures ELSE e.consecutive_failures + u.tail_failures END) >= $4 THEN now() + make_interval(secs => $5)
                               WHEN u.success THEN NULL
                               ELSE e.paused_until END
         FROM unnest($1::uuid[], $2::bool[], $3::int[]) AS u(id, success, tail_failures)
         WHERE e.id = u.id AND (u.tail_failures > 0 OR e.consecutive_failures <> 0 OR e.paused_until IS NOT NULL)
         RETURNING e.id, (u.tail_failures > 0 AND e.consecutive_failures >= $4) AS opened`,
        [
          endpoints.map(([id]) => id),
          endpoints.map(([, b]) => b.success),
          endpoints.map(([, b]) => b.trailing),
          policy.breakerFailures,
          policy.breakerCooldownSeconds,
        ],
      );
      return { rows, opened };
    });
    const statuses = new Map(rows.map((r) => [r.id as string, r.status as 'delivered' | 'pending' | 'failed']));
    const openedEndpoints = new Set(opened.rows.filter((r) => r.opened).map((r) => r.id as string));
    // a circuit that opened is reported once, with the endpoint's last item of the batch
    const lastOf = new Map(items.map((i, index) => [i.delivery.endpointId, index]));
    return items.map((i, index) => ({
      // gone (its endpoint was deleted meanwhile): nothing was recorded
      status: statuses.get(i.delivery.id) ?? (i.outcome.ok ? 'delivered' : 'failed'),
      circuitOpened: openedEndpoints.has(i.delivery.endpointId) && lastOf.get(i.delivery.endpointId) === index,
    }));
  }

  /** Deletes up to 10,000 finished deliveries (and their attempts) older than `days`; returns how many. */
  async prune(days: number): Promise<number> {
    const r = await this.pool.query(
      `DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE status <> 'pending' AND finished_at < now() - make_interval(secs => $1) LIMIT 10000)`,
      [days * 86400],
    );
    return r.rowCount ?? 0;
  }
}
