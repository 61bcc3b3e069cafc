import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import { TemplateStore } from '../../infra/templates/index.js';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from '../../infra/config/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import { Authenticator } from '../../infra/http/auth.js';
import { makeErrorHandler } from '../../infra/http/errors.js';
import type { Logger } from '../../infra/logging/index.js';
import { IdempotencyKeys } from '../../infra/messages/index.js';
import { createMetrics } from '../../infra/metrics/index.js';
import type { Database } from '../../infra/postgres/index.js';
import type { Server } from '../../domain/index.js';
import { messageListRoutes } from '../../read-api/message-list-routes.js';
import { v2SendRoutes } from '../../write-side/send/v2-send-routes.js';
import { buildServices } from '../services.js';

/** Authenticates one key, made up for this process, as the server the CLI was given. */
class ServerAuthenticator extends Authenticator {
  readonly key = randomBytes(24).toString('hex');
  constructor(
    tenancy: ConstructorParameters<typeof Authenticator>[0],
    private readonly given: Server,
  ) {
    super(tenancy);
  }
  override async server(apiKey: string): Promise<Server | undefined> {
    return apiKey === this.key ? this.given : undefined;
  }
}

export interface ApiAnswer {
  status: number;
  body: unknown;
}

/**
 * The HTTP API's own routes, called in this process as the given server (no listener, no API key):
 * `postlog send` goes through exactly the checks, composition and accept path of POST /v2/messages,
 * and `postlog messages list` reads what GET /v2/messages reads.
 */
export async function callApiAsServer(
  parts: { config: Config; logger: Logger; db: Database; store: EventStore },
  server: Server,
  request: { method: 'GET' | 'POST'; url: string; body?: unknown },
): Promise<ApiAnswer> {
  const services = buildServices(parts.config, parts.logger, createMetrics(), parts.db, parts.store);
  const auth = new ServerAuthenticator(services.tenancy, server);
  const send = { ...services.send, auth };
  const plugins: FastifyPluginAsync[] = [
    v2SendRoutes({
      ...send,
      idempotency: new IdempotencyKeys(parts.db.pool),
      templates: new TemplateStore(parts.db.pool),
    }),
    messageListRoutes({
      eventStore: parts.store,
      contents: services.contents,
      auth,
      tenancy: services.tenancy,
      pool: parts.db.pool,
    }),
  ];
  const app = Fastify({ logger: false, bodyLimit: parts.config.maxMessageBytes * 2 });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(makeErrorHandler(true));
  for (const plugin of plugins) await app.register(plugin);
  try {
    const res = await app.inject({
      method: request.method,
      url: request.url,
      headers: { 'x-server-api-key': auth.key },
      ...(request.body === undefined ? {} : { payload: request.body as object }),
    });
    return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as unknown) : undefined };
  } finally {
    await app.close();
  }
}
