// biome-ignore-all lint/suspicious/noExplicitAny: the row mappers take pg rows, which are untyped; each mapper is where a row gets its type
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { WebhookFormat } from '../../domain/index.js';
import type { SecretBox } from '../secrets/index.js';
import { randomToken } from '../tenancy/secrets.js';
import { newEcdsaKeyPair } from './ecdsa-keys.js';
import { redactedUrl, withStoredPassword } from './endpoint-url.js';
import { webhookSecretContext } from './sealed-secrets.js';

export interface WebhookEndpoint {
  id: string;
  serverId: string;
  url: string;
  description: string;
  /** Webhook event names; null: every event. */
  events: string[] | null;
  enabled: boolean;
  /** The body format it receives (domain/webhooks/formats/). */
  format: WebhookFormat;
  /** base64 DER of the ECDSA P-256 public key that checks its SendGrid-format signatures; null until it has one. */
  publicKey: string | null;
  /** closed: delivering; open: paused after consecutive failures; half-open: the next attempt decides. */
  circuit: { state: 'closed' | 'open' | 'half-open'; consecutiveFailures: number; pausedUntil: string | null };
  createdAt: string;
  updatedAt: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookAttempt {
  attempt: number;
  at: string;
  statusCode: number | null;
  durationMs: number;
  response: string | null;
  error: string | null;
}

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  event: string;
  eventType: string;
  messageId: string | null;
  status: DeliveryStatus;
  attempts: WebhookAttempt[];
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  eventAt: string;
  createdAt: string;
  finishedAt: string | null;
}

export const newWebhookSecret = () => `whsec_${randomToken(40)}`;

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toEndpoint = (r: any): WebhookEndpoint => ({
  id: r.id,
  serverId: r.server_id,
  url: redactedUrl(r.url),
  description: r.description,
  events: r.events,
  enabled: r.enabled,
  format: r.format,
  publicKey: r.ecdsa_public_key,
  circuit: {
    state: r.paused_until === null ? 'closed' : r.paused_until.getTime() > Date.now() ? 'open' : 'half-open',
    consecutiveFailures: r.consecutive_failures,
    pausedUntil: iso(r.paused_until),
  },
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});
const toAttempt = (r: any): WebhookAttempt => ({
  attempt: r.attempt,
  at: r.at.toISOString(),
  statusCode: r.status_code,
  durationMs: r.duration_ms,
  response: r.response,
  error: r.error,
});
const toDelivery = (r: any, attempts: WebhookAttempt[]): WebhookDelivery => ({
  id: r.id,
  endpointId: r.endpoint_id,
  eventId: r.event_id,
  event: r.webhook_event,
  eventType: r.event_type,
  messageId: r.stream_id.startsWith('message-') ? r.stream_id.slice('message-'.length) : null,
  status: r.status,
  attempts,
  nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
  lastStatusCode: r.last_status_code,
  lastError: r.last_error,
  eventAt: r.event_at.toISOString(),
  createdAt: r.created_at.toISOString(),
  finishedAt: iso(r.finished_at),
});

/** Webhook endpoints per server, and their delivery log (the management API's side). */
export class WebhookStore {
  /** `secrets` seals the endpoints' signing secrets (the dispatcher opens them) and 'sendgrid' endpoints' ECDSA keys. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: SecretBox,
  ) {}

  async create(
    serverId: string,
    input: {
      url: string;
      description: string;
      events: string[] | null;
      enabled: boolean;
      format?: WebhookFormat | undefined;
    },
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const id = randomUUID();
    const secret = newWebhookSecret();
    const format = input.format ?? 'postal';
    const pair = format === 'sendgrid' ? await this.sealedKeyPair(id) : null;
    const { rows } = await this.pool.query(
      `INSERT INTO webhook_endpoints
         (id, server_id, url, description, events, enabled, secret_sealed, format, ecdsa_private_key, ecdsa_public_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
      [
        id,
        serverId,
        input.url,
        input.description,
        input.events,
        input.enabled,
        this.seal(id, secret),
        format,
        pair?.sealed ?? null,
        pair?.publicKey ?? null,
      ],
    );
    return { endpoint: toEndpoint(rows[0]), secret };
  }

  /** A new ECDSA key pair for an endpoint, its private key sealed for that endpoint's row. */
  private async sealedKeyPair(endpointId: string): Promise<{ sealed: string; publicKey: string }> {
    const pair = await newEcdsaKeyPair();
    return { sealed: this.secrets.seal(pair.privateKeyPem, endpointId), publicKey: pair.publicKey };
  }

  async list(serverId: string): Promise<WebhookEndpoint[]> {
    return (
      await this.pool.query('SELECT * FROM webhook_endpoints WHERE server_id = $1 ORDER BY created_at, id', [serverId])
    ).rows.map(toEndpoint);
  }

  async get(id: string): Promise<WebhookEndpoint | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM webhook_endpoints WHERE id = $1', [id]);
    return rows[0] ? toEndpoint(rows[0]) : undefined;
  }

  /** Changes what is given; enabling an endpoint also closes its circuit. */
  async update(
    id: string,
    change: {
      url?: string | undefined;
      description?: string | undefined;
      events?: string[] | null | undefined;
      enabled?: boolean | undefined;
      format?: WebhookFormat | undefined;
    },
  ): Promise<WebhookEndpoint | undefined> {
    // becoming 'sendgrid': a key pair, kept only when the endpoint has none yet (one it had stays)
    const pair = change.format === 'sendgrid' ? await this.sealedKeyPair(id) : null;
    let url = change.url;
    if (url !== undefined) {
      const { rows: current } = await this.pool.query('SELECT url FROM webhook_endpoints WHERE id = $1', [id]);
      if (current[0]) url = withStoredPassword(url, current[0].url);
    }
    const { rows } = await this.pool.query(
      `UPDATE webhook_endpoints SET
         url = COALESCE($2, url),
         description = COALESCE($3, description),
         events = CASE WHEN $4 THEN $5::text[] ELSE events END,
         enabled = COALESCE($6, enabled),
         consecutive_failures = CASE WHEN $6 THEN 0 ELSE consecutive_failures END,
         paused_until = CASE WHEN $6 THEN NULL ELSE paused_until END,
         format = COALESCE($7, format),
         ecdsa_private_key = CASE WHEN ecdsa_private_key IS NULL THEN $8 ELSE ecdsa_private_key END,
         ecdsa_public_key = CASE WHEN ecdsa_private_key IS NULL THEN $9 ELSE ecdsa_public_key END,
         updated_at = now()
       WHERE id = $1 RETURNING *`,
      [
        id,
        url ?? null,
        change.description ?? null,
        change.events !== undefined,
        change.events ?? null,
        change.enabled ?? null,
        change.format ?? null,
        pair?.sealed ?? null,
        pair?.publicKey ?? null,
      ],
    );
    return rows[0] ? toEndpoint(rows[0]) : undefined;
  }

  async remove(id: string): Promise<void> {
    await this.pool.query('DELETE FROM webhook_endpoints WHERE id = $1', [id]);
  }

  /** A new secret signs from now on; the old one still signs beside it for `graceHours`. */
  async rotateSecret(id: string, graceHours = 24): Promise<string> {
    const secret = newWebhookSecret();
    // both columns move: a plaintext left from an older version is the current secret until sealed
    await this.pool.query(
      `UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_sealed = secret_sealed,
         previous_secret_until = now() + make_interval(hours => $3), secret = NULL, secret_sealed = $2,
         updated_at = now()
       WHERE id = $1`,
      [id, this.seal(id, secret), graceHours],
    );
    return secret;
  }

  private seal(id: string, secret: string): string {
    return this.secrets.seal(secret, webhookSecretContext(id));
  }

  /** The delivery log, newest first, with every attempt; `before` is the `next` cursor of the previous page. */
  async deliveries(
    endpointId: string,
    options: { status?: DeliveryStatus | undefined; limit: number; before?: string | undefined },
  ): Promise<{ deliveries: WebhookDelivery[]; next: string | null }> {
    const { rows } = await this.pool.query(
      `SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR seq < $3)
        ORDER BY seq DESC LIMIT $4`,
      [endpointId, options.status ?? null, options.before ?? null, options.limit],
    );
    const attempts = await this.attemptsOf(rows.map((r) => r.id));
    return {
      deliveries: rows.map((r) => toDelivery(r, attempts.get(r.id) ?? [])),
      next: rows.length === options.limit ? String(rows[rows.length - 1].seq) : null,
    };
  }

  async delivery(endpointId: string, id: string): Promise<(WebhookDelivery & { body: string }) | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2', [
      endpointId,
      id,
    ]);
    if (!rows[0]) return undefined;
    return { ...toDelivery(rows[0], (await this.attemptsOf([id])).get(id) ?? []), body: rows[0].body };
  }

  private async attemptsOf(ids: string[]): Promise<Map<string, WebhookAttempt[]>> {
    const out = new Map<string, WebhookAttempt[]>();
    if (ids.length === 0) return out;
    const { rows } = await this.pool.query(
      'SELECT * FROM webhook_attempts WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt',
      [ids],
    );
    for (const r of rows) out.set(r.delivery_id, [...(out.get(r.delivery_id) ?? []), toAttempt(r)]);
    return out;
  }

  /**
   * Sends finished deliveries again now, with a fresh retry schedule and give-up age: one by id, or
   * every one with `status` whose event happened in [from, to). Returns how many were queued.
   */
  async redeliver(
    endpointId: string,
    which: { id: string } | { status: 'failed' | 'delivered'; from: string; to: string },
  ): Promise<number> {
    const reset = `status = 'pending', next_attempt_at = now(), lease_until = NULL, retry_index = 0, retry_base_at = now(), finished_at = NULL`;
    const r =
      'id' in which
        ? await this.pool.query(
            `UPDATE webhook_deliveries SET ${reset} WHERE endpoint_id = $1 AND id = $2 AND status <> 'pending'`,
            [endpointId, which.id],
          )
        : await this.pool.query(
            `UPDATE webhook_deliveries SET ${reset} WHERE endpoint_id = $1 AND status = $2 AND event_at >= $3 AND event_at < $4`,
            [endpointId, which.status, which.from, which.to],
          );
    return r.rowCount ?? 0;
  }
}
