import { loggableUrl } from '../../infra/http/outbound.js';
import PostalMime from 'postal-mime';
import type { ContentStore } from '../../infra/content/index.js';
import { createJsonPoster, type JsonPoster } from '../../infra/http/outbound.js';
import type { Logger } from '../../infra/logging/index.js';
import type { RouteStore } from '../../infra/routes/index.js';

export interface RouteDispatcherDeps {
  routes: RouteStore;
  contents: ContentStore;
  logger: Logger;
  /** Seconds to wait after attempt 1, 2, …; past the last one the delivery fails. */
  retryDelays: number[];
  pollMs?: number;
  /** Allow endpoints on loopback, private and link-local addresses (testing only). */
  allowPrivate?: boolean;
}

/** Postal's HTTP endpoint payload for a parsed message. */
async function jsonPayload(id: number, rcptTo: string, mailFrom: string, raw: Buffer): Promise<unknown> {
  const email = await PostalMime.parse(raw, { attachmentEncoding: 'base64' });
  const header = (name: string) => email.headers.find((h) => h.key === name)?.value ?? null;
  const list = (addresses: typeof email.to) =>
    (addresses ?? [])
      .map((a) => ('address' in a && a.address ? (a.name ? `${a.name} <${a.address}>` : a.address) : a.name))
      .join(', ') || null;
  return {
    id,
    rcpt_to: rcptTo,
    mail_from: mailFrom,
    message_id: email.messageId?.replace(/^<|>$/g, '') ?? null,
    subject: email.subject ?? null,
    timestamp: Date.now() / 1000,
    size: String(raw.length),
    from:
      email.from && 'address' in email.from
        ? email.from.name
          ? `${email.from.name} <${email.from.address}>`
          : email.from.address
        : null,
    to: list(email.to),
    cc: list(email.cc),
    date: email.date ?? null,
    in_reply_to: email.inReplyTo ?? null,
    references: email.references ?? null,
    auto_submitted: header('auto-submitted'),
    plain_body: email.text ?? null,
    html_body: email.html ?? null,
    attachment_quantity: email.attachments.length,
    attachments: email.attachments.map((a) => ({
      filename: a.filename,
      content_type: a.mimeType,
      size: Buffer.from(String(a.content), 'base64').length,
      data: a.content,
    })),
  };
}

/**
 * Mail received before routes had modes and several endpoints (the legacy queue of migration 8):
 * drained by this dispatcher until none is left; newer mail goes through endpoint-dispatcher.ts.
 * Hands mail received for a route to its HTTP endpoint — as JSON parsed with postal-mime, or the
 * raw message — and retries on failure (any non-2xx, or no answer in 30 s) on a schedule,
 * recording every attempt in the delivery log.
 */
export class RouteDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Refuses private addresses at connect time (unless allowed), so DNS cannot be rebound in between. */
  private readonly poster: JsonPoster;

  constructor(private readonly d: RouteDispatcherDeps) {
    this.poster = createJsonPoster({
      timeoutMs: 30_000,
      allowPrivate: d.allowPrivate ?? false,
      maxSocketsPerOrigin: 10,
    });
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.dispatch()
        .catch((err: Error) => this.d.logger.error({ error: err.message }, 'route dispatch failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(tick, this.d.pollMs ?? 1000);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.poster.close();
  }

  private async dispatch(): Promise<void> {
    const due = await this.d.routes.lease(50, 120);
    await Promise.all(
      due.map(async (delivery) => {
        const raw = await this.d.contents.get(delivery.contentSha256);
        if (!raw)
          return this.d.routes.settle(delivery.id, {
            status: 'failed',
            code: null,
            response: 'the message content is gone',
          });
        let payload: unknown;
        try {
          payload =
            delivery.format === 'json'
              ? await jsonPayload(delivery.id, delivery.rcptTo, delivery.mailFrom, raw)
              : undefined;
        } catch (err) {
          // a message that cannot be parsed never will be: settled as failed, not leased again forever
          const response = `the message cannot be parsed: ${(err as Error).message}`;
          this.d.logger.warn({ delivery: delivery.id, error: response }, 'route delivery failed');
          return this.d.routes.settle(delivery.id, { status: 'failed', code: null, response });
        }
        const body =
          payload !== undefined
            ? JSON.stringify(payload)
            : JSON.stringify({
                id: delivery.id,
                rcpt_to: delivery.rcptTo,
                mail_from: delivery.mailFrom,
                message: raw.toString('base64'),
                base64: true,
                size: raw.length,
              });
        let code: number | null = null;
        let response = '';
        try {
          const res = await this.poster.post(delivery.endpointUrl, body, {
            'user-agent': 'Postlog',
            'x-postlog-route-delivery': String(delivery.id),
          });
          code = res.status;
          response = res.excerpt;
        } catch (err) {
          response = (err as Error).message;
        }
        if (code !== null && code >= 200 && code < 300)
          return this.d.routes.settle(delivery.id, { status: 'delivered', code, response });
        const delay = this.d.retryDelays[delivery.attempts];
        this.d.logger.warn(
          {
            delivery: delivery.id,
            endpoint: loggableUrl(delivery.endpointUrl),
            code,
            attempt: delivery.attempts + 1,
          },
          'route endpoint did not take the message',
        );
        return this.d.routes.settle(
          delivery.id,
          delay === undefined
            ? { status: 'failed', code, response }
            : { status: 'pending', code, response, retryInSeconds: delay },
        );
      }),
    );
  }
}
