import { messageStreamId } from '../../domain/index.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../infra/clock/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { SuppressionList } from '../../infra/messages/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { handleMessageCommand } from '../message-command-handler.js';
import type { HitRecorder } from './hit-recorder.js';
import { peekClaim, verifyToken, type TrackingClaim } from './tokens.js';

export interface TrackingDeps {
  tenancy: TenancyStore;
  recorder: HitRecorder;
  eventStore: EventStore;
  suppressions: SuppressionList;
  logger: Logger;
  /** Stamps hits and unsubscribes. */
  clock: Clock;
}

// the smallest transparent GIF
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const NO_CACHE = {
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
  pragma: 'no-cache',
  expires: '0',
};

/** The claim of a token whose signature holds, for the expected kind; undefined otherwise. */
async function claimOf(
  deps: TrackingDeps,
  token: string,
  kind: TrackingClaim['kind'],
): Promise<TrackingClaim | undefined> {
  const claim = peekClaim(token);
  if (!claim || claim.kind !== kind) return undefined;
  const keys = await deps.tenancy.trackingKeys(claim.serverId);
  return keys && verifyToken(token, keys) ? claim : undefined;
}

const userAgent = (req: FastifyRequest) =>
  typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : '';
const notFound = (reply: FastifyReply) => reply.code(404).headers(NO_CACHE).type('text/plain').send('Not found');
const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * Open pixel, click redirect and one-click unsubscribe (RFC 8058). A forged, truncated or
 * foreign token gets 404 and never a redirect.
 */
export function trackingRoutes(deps: TrackingDeps) {
  return async function plugin(app: FastifyInstance) {
    app.get<{ Params: { token: string } }>('/t/o/:token', { schema: { hide: true } }, async (req, reply) => {
      const claim = await claimOf(deps, req.params.token, 'open');
      if (!claim) return notFound(reply);
      await deps.recorder.record({
        kind: 'open',
        messageId: claim.messageId,
        serverId: claim.serverId,
        ip: req.ip,
        userAgent: userAgent(req),
        at: deps.clock.now(),
      });
      // webmail shows the pixel from its own origin: the same-origin resource policy would block it
      return reply
        .headers(NO_CACHE)
        .header('cross-origin-resource-policy', 'cross-origin')
        .type('image/gif')
        .send(PIXEL);
    });

    app.get<{ Params: { token: string } }>('/t/c/:token', { schema: { hide: true } }, async (req, reply) => {
      const claim = await claimOf(deps, req.params.token, 'click');
      if (claim?.kind !== 'click') return notFound(reply);
      await deps.recorder.record({
        kind: 'click',
        messageId: claim.messageId,
        serverId: claim.serverId,
        url: claim.url,
        ip: req.ip,
        userAgent: userAgent(req),
        at: deps.clock.now(),
      });
      return reply.code(302).headers(NO_CACHE).header('location', claim.url).send();
    });

    // a person who follows the link sees a page with one button; mail clients POST directly (RFC 8058)
    app.get<{ Params: { token: string } }>('/t/u/:token', { schema: { hide: true } }, async (req, reply) => {
      const claim = await claimOf(deps, req.params.token, 'unsubscribe');
      if (!claim) return notFound(reply);
      return reply
        .headers(NO_CACHE)
        .type('text/html; charset=utf-8')
        .send(
          `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Unsubscribe</title>` +
            `<form method="post" action="${escapeHtml(req.params.token)}"><input type="hidden" name="List-Unsubscribe" value="One-Click">` +
            `<p>Stop receiving these emails?</p><button type="submit">Unsubscribe</button></form>`,
        );
    });

    app.post<{ Params: { token: string } }>('/t/u/:token', { schema: { hide: true } }, async (req, reply) => {
      const claim = await claimOf(deps, req.params.token, 'unsubscribe');
      if (!claim) return notFound(reply);
      await unsubscribe(deps, claim.messageId, claim.serverId, 'one-click', req.ip);
      return reply
        .headers(NO_CACHE)
        .type('text/html; charset=utf-8')
        .send('<!doctype html><meta charset="utf-8"><title>Unsubscribed</title><p>You are unsubscribed.</p>');
    });
  };
}

/** Records the unsubscribe and suppresses the address for the server, for good. */
export async function unsubscribe(
  deps: Pick<TrackingDeps, 'eventStore' | 'suppressions' | 'logger' | 'clock'>,
  messageId: string,
  serverId: string,
  method: 'one-click' | 'mailto' | 'link',
  ip?: string,
): Promise<boolean> {
  const result = await handleMessageCommand(
    deps.eventStore,
    messageId,
    { type: 'RecordUnsubscribe', method, ...(ip ? { ip } : {}), at: deps.clock.now().toISOString() },
    { serverId, actor: 'recipient' },
  );
  if (!result.ok) {
    deps.logger.warn({ messageId, error: result.error.code }, 'unsubscribe not recorded');
    return false;
  }
  const [accepted] = await deps.eventStore.readStream(messageStreamId(messageId), { limit: 1 });
  const to = (accepted?.data as { to?: string } | undefined)?.to;
  if (to) await deps.suppressions.add(serverId, to, `unsubscribed (${method})`, null);
  return true;
}
