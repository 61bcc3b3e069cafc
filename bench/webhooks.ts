import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { deliveryId, webhookBody, webhookPayload, type MessageFacts } from '../domain/index.js';
import { startPostlogForBench } from './support.js';

export interface WebhookBenchOptions {
  /** Deliveries in the outbox before the clock starts. */
  deliveries?: number;
  /** POSTLOG_WEBHOOK_CONCURRENCY of the Postlog under test. */
  concurrency?: number;
}

export interface WebhookBenchResult {
  deliveries: number;
  seconds: number;
  deliveriesPerSecond: number;
}

/** A local receiver that answers 200 and checks the HMAC of every request it gets. */
async function startReceiver(secret: () => string) {
  let received = 0;
  let badSignatures = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = String(req.headers['x-postlog-signature'] ?? '');
      const t = /t=(\d+)/.exec(header)?.[1];
      const expected = createHmac('sha256', secret()).update(`${t}.${body}`).digest('hex');
      if (!header.includes(`v1=${expected}`)) badSignatures++;
      received++;
      res.writeHead(200).end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received: () => received,
    badSignatures: () => badSignatures,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

/**
 * Webhook deliveries per second from a filled outbox to a local receiver: a real `postlog start`
 * (projector role: the dispatcher), an endpoint created disabled through the API, N deliveries
 * written into its outbox, then the endpoint enabled and the clock running until the receiver has
 * every one and the log records every one as delivered.
 */
export async function measureWebhookDeliveries(opts: WebhookBenchOptions = {}): Promise<WebhookBenchResult> {
  const n = opts.deliveries ?? 20_000;
  let secret = '';
  const receiver = await startReceiver(() => secret);
  const postlog = await startPostlogForBench({
    POSTLOG_ROLES: 'api,projector',
    POSTLOG_WEBHOOKS_ALLOW_PRIVATE_ENDPOINTS: 'true',
    POSTLOG_WEBHOOK_POLL_MS: '20',
    ...(opts.concurrency ? { POSTLOG_WEBHOOK_CONCURRENCY: String(opts.concurrency) } : {}),
  });
  const secrets = JSON.parse(readFileSync(`${postlog.env.POSTLOG_DATA_DIR}/embedded-pg.json`, 'utf8')) as {
    user: string;
    password: string;
  };
  const db = new pg.Client({
    connectionString: `postgres://${secrets.user}:${encodeURIComponent(secrets.password)}@127.0.0.1:${postlog.env.POSTLOG_EMBEDDED_PG_PORT}/postgres`,
  });
  await db.connect();
  try {
    const init = JSON.parse(await postlog.cli(['init', '--json'])) as { serverId: string; apiKey: string };
    const api = async (method: string, path: string, body: unknown) => {
      const res = await fetch(postlog.url + path, {
        method,
        headers: { 'content-type': 'application/json', 'x-server-api-key': init.apiKey },
        body: JSON.stringify(body),
      });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as Record<string, any>;
    };
    const created = await api('POST', `/v2/servers/${init.serverId}/webhooks`, { url: receiver.url, enabled: false });
    secret = created.secret;
    const endpointId = created.endpoint.id as string;

    // the outbox as the projection fills it: Postal MessageSent bodies, one message each
    const at = new Date();
    for (let start = 0; start < n; start += 5000) {
      const ids: string[] = [];
      const events: string[] = [];
      const streams: string[] = [];
      const bodies: string[] = [];
      for (let i = start; i < Math.min(n, start + 5000); i++) {
        const eventId = randomUUID();
        const facts: MessageFacts = {
          messageId: i + 1,
          token: 'AbCdEfGh12345678',
          rfcMessageId: `${i}@bench.test`,
          from: 'app@bench.test',
          to: `r${i}@example.org`,
          subject: 'Bench',
          tag: null,
          metadata: null,
          acceptedAt: at.toISOString(),
        };
        const hook = webhookPayload(
          {
            type: 'MessageDelivered',
            data: {
              delivery: {
                attempt: 1,
                mxHost: 'mx.example.org',
                reply: { code: 250, text: 'OK' },
                durationMs: 12,
                at: at.toISOString(),
              },
              at: at.toISOString(),
            },
          },
          facts,
        )!;
        const id = deliveryId(endpointId, eventId);
        ids.push(id);
        events.push(eventId);
        streams.push(`message-${i + 1}`);
        bodies.push(webhookBody(hook.event, at, hook.payload, id));
      }
      await db.query(
        `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, webhook_event, stream_id, stream_revision, event_at, body, retry_base_at)
         SELECT u.id, $2, u.event_id, 'MessageDelivered', 'MessageSent', u.stream_id, 3, now(), u.body, now()
           FROM unnest($1::uuid[], $3::uuid[], $4::text[], $5::text[]) AS u(id, event_id, stream_id, body)`,
        [ids, endpointId, events, streams, bodies],
      );
    }

    const started = performance.now();
    await api('PATCH', `/v2/webhooks/${endpointId}`, { enabled: true });
    const deadline = Date.now() + 300_000;
    let delivered = 0;
    for (;;) {
      if (receiver.received() >= n) {
        delivered = (
          await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`)
        ).rows[0]!.n;
        if (delivered >= n) break;
      }
      if (Date.now() > deadline) throw new Error(`only ${receiver.received()} of ${n} webhooks arrived`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    if (receiver.badSignatures() > 0)
      throw new Error(`${receiver.badSignatures()} webhooks had a bad X-Postlog-Signature`);
    return { deliveries: n, seconds: +seconds.toFixed(2), deliveriesPerSecond: Math.round(n / seconds) };
  } finally {
    await db.end();
    await postlog.stop();
    await receiver.close();
  }
}

/** `npm run bench -- webhooks` */
export async function run() {
  const result = await measureWebhookDeliveries({ deliveries: Number(process.env.BENCH_WEBHOOKS ?? 20_000) });
  process.stderr.write(
    `webhooks: ${result.deliveries} delivered in ${result.seconds} s = ${result.deliveriesPerSecond}/s\n`,
  );
  const target = 1000;
  return {
    bench: 'webhooks',
    ...result,
    targets: { deliveriesPerSecond: target },
    met: { throughput: result.deliveriesPerSecond >= target },
  };
}
