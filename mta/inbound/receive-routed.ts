import {
  dispositionFor,
  spamStatusOf,
  type AuthenticationResults,
  type Disposition,
  type SpamThresholds,
} from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { ContentStore } from '../../infra/content/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { MessageIdAllocator } from '../../infra/messages/index.js';
import type { Route } from '../../infra/routes/index.js';
import { randomToken } from '../../infra/tenancy/index.js';
import { handleIncomingCommand } from '../../write-side/incoming/incoming-command-handler.js';
import type { Email } from './inbound-processor.js';
import type { InboundScanVerdict } from './inbound-scan.js';

export interface ReceiveRoutedDeps {
  eventStore: EventStore;
  contents: ContentStore;
  messageIds: MessageIdAllocator;
  clock: Clock;
  logger: Logger;
  /** SPF, DKIM, DMARC and ARC of the message (undefined: not computed, e.g. DNS unusable). */
  authenticate?: (raw: Buffer, envelope: Envelope) => Promise<AuthenticationResults | undefined>;
  /** The scanners' verdict (undefined: none configured). */
  scan?: (raw: Buffer, envelope: Envelope) => Promise<InboundScanVerdict | undefined>;
  /** The thresholds of a server's incoming mail (its own, else the configured ones). */
  spamThresholds: (serverId: string) => Promise<SpamThresholds>;
}

/** What the sending server told us about itself and the message. */
export interface Envelope {
  mailFrom: string;
  clientIp: string;
  helo: string;
  tls: boolean;
}

export interface Received {
  messageId: string;
  rcpt: string;
  disposition: Disposition['kind'];
  /** For bounce and reject: the 5xx text to answer the sender with. */
  reply?: string;
}

const addressOf = (a: Email['from']) =>
  a && 'address' in a && a.address ? (a.name ? `${a.name} <${a.address}>` : a.address) : '';

/**
 * Mail for routed addresses becomes incoming messages: the body stored once, one message per
 * recipient (as Postal has it), each with its authentication results, its scan verdict (an
 * IncomingScanned of its own) and the disposition its route's mode and spam mode decide, in one
 * append. Only when every append has succeeded is the sender answered (a 250 means the messages are
 * in the log).
 */
export async function receiveRouted(
  deps: ReceiveRoutedDeps,
  raw: Buffer,
  email: Email,
  envelope: Envelope,
  routed: { rcpt: string; route: Route }[],
): Promise<Received[]> {
  const [authentication, scan] = await Promise.all([deps.authenticate?.(raw, envelope), deps.scan?.(raw, envelope)]);
  const contentHash = await deps.contents.put(raw);
  const ids = await deps.messageIds.take(routed.length);
  const at = deps.clock.now().toISOString();
  return Promise.all(
    routed.map(async ({ rcpt, route }, i) => {
      const messageId = String(ids[i]);
      const thresholds = await deps.spamThresholds(route.serverId);
      // the verdict as this server reads it: its own threshold says what is spam
      const judged: InboundScanVerdict | undefined = scan && {
        ...scan,
        spamStatus: spamStatusOf(scan.spamScore, thresholds.spam),
        ...(scan.spamScore !== undefined ? { spamThreshold: thresholds.spam } : {}),
      };
      const disposition = dispositionFor(
        {
          mode: route.mode,
          spamMode: route.spamMode,
          endpoints: route.endpoints.map((e) => ({ endpointId: e.id, kind: e.kind, target: e.target })),
        },
        judged,
        thresholds,
      );
      const result = await handleIncomingCommand(
        deps.eventStore,
        messageId,
        {
          type: 'Receive',
          message: {
            messageId,
            serverId: route.serverId,
            routeId: route.id,
            token: randomToken(16),
            rfcMessageId: (email.messageId ?? '').replace(/^<|>$/g, '').slice(0, 998),
            mailFrom: envelope.mailFrom,
            rcptTo: rcpt,
            from: addressOf(email.from).slice(0, 998),
            subject: (email.subject ?? '').slice(0, 998),
            contentHash,
            size: raw.length,
            clientIp: envelope.clientIp,
            helo: envelope.helo.slice(0, 255),
            tls: envelope.tls,
            ...(authentication ? { authentication } : {}),
          },
          ...(judged ? { scan: judged } : {}),
          disposition,
          at,
        },
        { serverId: route.serverId, actor: 'inbound', correlationId: `incoming-${messageId}` },
      );
      if (!result.ok) throw new Error(`incoming message ${messageId} not recorded: ${result.error.code}`);
      deps.logger.info(
        { messageId, serverId: route.serverId, routeId: route.id, rcpt, disposition: disposition.kind },
        'incoming message received',
      );
      return {
        messageId,
        rcpt,
        disposition: disposition.kind,
        ...('reply' in disposition ? { reply: disposition.reply } : {}),
      };
    }),
  );
}
