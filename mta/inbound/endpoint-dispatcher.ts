import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import { scanOf, type IncomingReceived } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { ContentStore } from '../../infra/content/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { createJsonPoster, isPrivateAddress, loggableUrl, type JsonPoster } from '../../infra/http/outbound.js';
import type { Logger } from '../../infra/logging/index.js';
import type { EndpointQueue, QueuedEndpointDelivery, RouteEndpoint, RouteStore } from '../../infra/routes/index.js';
import { handleIncomingCommand, loadIncoming } from '../../write-side/incoming/incoming-command-handler.js';
import { formEncoded, postalPayload, rawPayload, withArrivalHeaders } from './postal-endpoint-payload.js';
import type { z } from 'zod';

type Received = z.infer<typeof IncomingReceived>;

export interface EndpointDispatcherDeps {
  queue: EndpointQueue;
  routes: RouteStore;
  contents: ContentStore;
  eventStore: EventStore;
  logger: Logger;
  clock: Clock;
  /** Seconds to wait after attempt 1, 2, …; past the last one the endpoint has failed. */
  retryDelays: number[];
  /** Allow endpoints on loopback, private and link-local addresses (testing only). */
  allowPrivate: boolean;
  hostname: string;
  /** Hands the message to our own MTA for an address endpoint: the new outgoing message's id. */
  forward: (serverId: string, routeAddress: string, to: string, raw: Buffer) => Promise<string>;
  pollMs?: number;
}

/** An endpoint's answer: taken, or not (and whether trying again can help). */
interface Answer {
  taken: boolean;
  permanent?: boolean;
  code?: number;
  response: string;
}

/**
 * Hands incoming messages to their route's endpoints from the endpoint queue (a projection of the
 * log): HTTP (Postal's JSON, a form, or the raw message), another SMTP server, or an address our
 * own MTA delivers to. Each attempt is an event in the message's history; a failure is tried again
 * on the retry schedule, then the endpoint has failed (an operator can retry it).
 */
export class EndpointDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly poster: JsonPoster;

  constructor(private readonly d: EndpointDispatcherDeps) {
    this.poster = createJsonPoster({ timeoutMs: 30_000, allowPrivate: d.allowPrivate, maxSocketsPerOrigin: 10 });
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.dispatch()
        .catch((err: Error) => this.d.logger.error({ error: err.message }, 'endpoint dispatch failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(tick, this.d.pollMs ?? 500);
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

  /** One pass over the due deliveries (tests call it to not wait for the timer). */
  async dispatch(): Promise<void> {
    const due = await this.d.queue.lease(50, 120);
    await Promise.all(due.map((row) => this.deliver(row)));
  }

  private async deliver(row: QueuedEndpointDelivery): Promise<void> {
    const id = String(row.messageId);
    const loaded = await loadIncoming(this.d.eventStore, id);
    if (!loaded.ok) throw new Error(`incoming message ${id}: ${loaded.error.code}`);
    const endpointState = loaded.value.state.endpoints.get(row.endpointId);
    // the log moved on (an attempt recorded, the queue not yet told): the lease lapses, nothing to do
    if (loaded.value.state.status !== 'routing' || endpointState?.status !== 'pending') return;
    const first = loaded.value.events[0];
    if (first?.type !== 'IncomingReceived') throw new Error(`incoming message ${id} has no IncomingReceived`);
    // the verdict (its own IncomingScanned, or inside IncomingReceived for older messages) goes to the endpoints too
    const scanned = loaded.value.events.find((e) => e.type === 'IncomingScanned');
    const scan = scanOf(first.data, scanned?.type === 'IncomingScanned' ? scanned.data : undefined);
    const received: Received = { ...first.data, ...(scan ? { scan } : {}) };
    const started = performance.now();
    const answer = await this.answerOf(row, received).catch(
      (err: Error): Answer => ({ taken: false, response: err.message.slice(0, 1000) }),
    );
    const durationMs = Math.round(performance.now() - started);
    const delay = this.d.retryDelays[endpointState.attempts];
    const now = this.d.clock.now();
    const outcome = answer.taken ? 'delivered' : answer.permanent || delay === undefined ? 'failed' : 'retry';
    if (!answer.taken)
      this.d.logger.warn(
        { messageId: id, endpointId: row.endpointId, code: answer.code, attempt: endpointState.attempts + 1, outcome },
        'route endpoint did not take the message',
      );
    const result = await handleIncomingCommand(
      this.d.eventStore,
      id,
      {
        type: 'RecordEndpointAttempt',
        endpointId: row.endpointId,
        outcome,
        ...(answer.code !== undefined ? { code: answer.code } : {}),
        response: answer.response.slice(0, 1000),
        durationMs,
        ...(outcome === 'retry' ? { retryAt: new Date(now.getTime() + delay! * 1000).toISOString() } : {}),
        at: now.toISOString(),
      },
      { serverId: received.serverId, actor: 'route-dispatcher', correlationId: `incoming-${id}` },
    );
    if (!result.ok)
      this.d.logger.warn({ messageId: id, error: result.error }, 'an endpoint attempt could not be recorded');
  }

  private async answerOf(row: QueuedEndpointDelivery, received: Received): Promise<Answer> {
    const endpoint = await this.d.routes.endpoint(row.endpointId);
    if (!endpoint) return { taken: false, permanent: true, response: 'the endpoint was removed from its route' };
    const stored = await this.d.contents.get(received.contentHash);
    if (!stored) return { taken: false, permanent: true, response: 'the message content is gone (retention)' };
    const raw = withArrivalHeaders(stored, received);
    switch (endpoint.kind) {
      case 'http':
        return this.post(endpoint, row, received, raw);
      case 'smtp':
        return this.relay(endpoint, received, raw);
      case 'address': {
        const route = await this.d.routes.get(row.routeId);
        const from = route && !route.address.startsWith('*@') ? route.address : received.rcptTo;
        const forwarded = await this.d.forward(received.serverId, from, endpoint.target, raw);
        return { taken: true, response: `accepted for ${endpoint.target} as message ${forwarded}` };
      }
    }
  }

  private async post(endpoint: RouteEndpoint, row: QueuedEndpointDelivery, received: Received, raw: Buffer) {
    let payload: Record<string, unknown>;
    try {
      payload =
        endpoint.format === 'raw'
          ? rawPayload(row.messageId, received, raw)
          : await postalPayload(row.messageId, received, raw, endpoint);
    } catch (err) {
      // a message that cannot be parsed never will be: failed, not tried again
      return { taken: false, permanent: true, response: `the message cannot be parsed: ${(err as Error).message}` };
    }
    const form = endpoint.format === 'form';
    const res = await this.poster.post(
      endpoint.target,
      form ? formEncoded(payload) : JSON.stringify(payload),
      {
        'user-agent': 'Postlog',
        'x-postlog-message-id': String(row.messageId),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      endpoint.timeoutSeconds * 1000,
    );
    this.d.logger.debug({ endpoint: loggableUrl(endpoint.target), status: res.status }, 'route endpoint answered');
    return { taken: res.status >= 200 && res.status < 300, code: res.status, response: res.excerpt };
  }

  /** Forwards the message unchanged (but for our arrival headers) to another SMTP server. */
  private async relay(endpoint: RouteEndpoint, received: Received, raw: Buffer): Promise<Answer> {
    const at = endpoint.target.lastIndexOf(':');
    const host = at > 0 ? endpoint.target.slice(0, at).replace(/^\[|\]$/g, '') : endpoint.target;
    const port = at > 0 ? Number(endpoint.target.slice(at + 1)) : 25;
    if (!this.d.allowPrivate) {
      const { lookup } = await import('node:dns/promises');
      const addresses = isIP(host) ? [{ address: host }] : await lookup(host, { all: true });
      if (addresses.some((a) => isPrivateAddress(a.address)))
        return { taken: false, permanent: true, response: `${host} is a private address` };
    }
    const transport = nodemailer.createTransport({
      host,
      port,
      secure: port === 465,
      name: this.d.hostname,
      // opportunistic: another server's certificate is not ours to vouch for
      tls: { rejectUnauthorized: false },
      connectionTimeout: endpoint.timeoutSeconds * 1000,
      greetingTimeout: endpoint.timeoutSeconds * 1000,
      socketTimeout: endpoint.timeoutSeconds * 1000,
      logger: false,
    });
    try {
      const info = await transport.sendMail({ envelope: { from: received.mailFrom, to: [received.rcptTo] }, raw });
      return { taken: true, code: Number(/^\d{3}/.exec(info.response)?.[0] ?? 250), response: info.response };
    } catch (err) {
      const e = err as Error & { responseCode?: number; response?: string };
      return {
        taken: false,
        permanent: e.responseCode !== undefined && e.responseCode >= 500,
        ...(e.responseCode !== undefined ? { code: e.responseCode } : {}),
        response: e.response ?? e.message,
      };
    } finally {
      transport.close();
    }
  }
}
