import {
  decideIncoming,
  dispositionFor,
  IncomingCommand,
  incomingEventCodec,
  incomingStreamId,
  initialIncomingState,
  spamStatusOf,
  type AuthenticationResults,
  type Disposition,
  type IncomingCommandInput,
  type SpamThresholds,
} from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { ContentStore } from '../../infra/content/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { MessageIdAllocator } from '../../infra/messages/index.js';
import type { Route } from '../../infra/routes/index.js';
import { randomToken } from '../../infra/tenancy/index.js';
import type { Email } from './inbound-processor.js';
import type { InboundScanVerdict } from './inbound-scan.js';
import type { ReturnToSender } from './return-bounces.js';

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
  /** Accepts the DSN of a recipient whose route bounces it (return-bounces.ts); none: no DSN is sent. */
  returnToSender?: ReturnToSender;
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
  serverId: string;
  rcpt: string;
  disposition: Disposition['kind'];
  /** For bounce and reject: the 5xx text to answer the sender with. */
  reply?: string;
}

const addressOf = (a: Email['from']) =>
  a && 'address' in a && a.address ? (a.name ? `${a.name} <${a.address}>` : a.address) : '';

/**
 * Mail for routed addresses becomes incoming messages: the body stored once, one message per
 * recipient (as Postal has it), each with its authentication results and scan verdict, and the
 * disposition its route's mode and spam mode decide. Every recipient's stream is written in one
 * atomic append: a log that refuses one refuses them all, so the sender's retry after a 451 stores
 * each recipient once, not again those written before the fault (a 250 means all are in the log).
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
  const decided = await Promise.all(
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
      const command = IncomingCommand.safeParse({
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
        // the verdict is an event of its own (IncomingScanned), right after IncomingReceived
        ...(judged ? { scan: judged } : {}),
        disposition,
        at,
      } satisfies IncomingCommandInput);
      if (!command.success) throw new Error(`incoming message ${messageId} not valid: ${command.error.message}`);
      const events = decideIncoming(command.data, initialIncomingState());
      if (!events.ok) throw new Error(`incoming message ${messageId} not received: ${events.error.message}`);
      return { messageId, rcpt, route, disposition, events: events.value };
    }),
  );
  await appendAll(
    deps,
    decided.map((d) => ({
      streamId: incomingStreamId(d.messageId),
      expected: 'no_stream' as const,
      events: d.events.map((e) => ({
        type: e.type,
        schemaVersion: incomingEventCodec.schemaVersionOf(e.type),
        data: e.data,
        metadata: { serverId: d.route.serverId, actor: 'inbound', correlationId: `incoming-${d.messageId}` },
      })),
    })),
  );
  return decided.map(({ messageId, rcpt, route, disposition }) => {
    deps.logger.info(
      { messageId, serverId: route.serverId, routeId: route.id, rcpt, disposition: disposition.kind },
      'incoming message received',
    );
    return {
      messageId,
      serverId: route.serverId,
      rcpt,
      disposition: disposition.kind,
      ...('reply' in disposition ? { reply: disposition.reply } : {}),
    };
  });
}

type StreamAppend = Parameters<EventStore['appendMany']>[0][number];

/**
 * One atomic append of every recipient's stream. A log that cannot write several streams at once
 * (EventStoreDB before KurrentDB 25.1) gets them one after the other: there a fault part-way still
 * leaves the first recipients written, and the sender's retry stores them again (docs/smtp.md).
 */
async function appendAll(deps: ReceiveRoutedDeps, appends: StreamAppend[]): Promise<void> {
  const together = await deps.eventStore.appendMany(appends);
  if (together.ok) return;
  if (together.error.code !== 'ATOMIC_APPEND_UNSUPPORTED')
    throw new Error(`incoming messages not recorded: ${together.error.code}`);
  for (const a of appends) {
    const one = await deps.eventStore.append(a.streamId, a.events, a.expected);
    if (!one.ok) throw new Error(`incoming message ${a.streamId} not recorded: ${one.error.code}`);
  }
}
