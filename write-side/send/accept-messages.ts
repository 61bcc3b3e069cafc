import { randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import {
  canonicalMessageBytes,
  decide,
  err,
  hasTlsRequiredNo,
  initialState,
  MAX_LINE_BYTES,
  messageEventCodec,
  messageStreamId,
  normalizedAddress,
  ok,
  type Mailbox,
  type MessageCommand,
  type OutboundVirusCheck,
  type Result,
  type Server,
} from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { ContentStore } from '../../infra/content/index.js';
import type { EventMetadata, EventStore } from '../../infra/event-store/index.js';
import type { MessageIdAllocator, SendLimits, SuppressionList } from '../../infra/messages/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { randomToken } from '../../infra/tenancy/index.js';
import type { DeliverabilityStore } from '../../infra/deliverability/index.js';
import { feedbackIdLine, withHeaderLines } from './deliverability-headers.js';
import { recordSendLimitWarnings } from './send-limit-warnings.js';
import type { ReputationPauses } from '../reputation/reputation-pauses.js';
import { reputationPause } from '../reputation/reputation-state.js';
import { checkOutboundSpam, type SpamCheckDeps, type SpamCheckOutcome } from './outbound-spam-check.js';
import { checkOutboundVirus, type VirusCheckDeps, type VirusCheckError } from './outbound-virus-check.js';

export interface AcceptDeps {
  eventStore: EventStore;
  contents: ContentStore;
  ids: MessageIdAllocator;
  suppressions: SuppressionList;
  sendLimits: SendLimits;
  tenancy: TenancyStore;
  /** Stamps acceptance (and the Date and Received headers of messages the APIs compose). */
  clock: Clock;
  /** The spam scanners for servers with an outboundSpamThreshold; none configured: such servers go unchecked. */
  spamCheck?: SpamCheckDeps | undefined;
  /** The virus scanners every outgoing message passes (POSTLOG_OUTBOUND_VIRUS_SCAN); none: nothing is scanned. */
  virusCheck?: VirusCheckDeps | undefined;
  /** Servers' deliverability settings (Feedback-ID, SMTP List-Unsubscribe); none: every server's defaults. */
  deliverability?: DeliverabilityStore | undefined;
  /** The reputation guard's pauses, remembered briefly; none: the server's reputation stream is read each time. */
  reputationPauses?: ReputationPauses | undefined;
}

export interface MessageToAccept {
  to: Mailbox;
  /** The template it was rendered from. */
  template?: { id: string; alias: string; version: number } | undefined;
  /** Index into `contents`: recipients of one composed message share its bytes. */
  content: number;
  rfcMessageId: string;
  subject: string;
  /** This message's own metadata (instead of the request's). */
  metadata?: Record<string, string> | undefined;
}

export interface AcceptRequest {
  server: Server;
  from: Mailbox;
  contents: Buffer[];
  messages: MessageToAccept[];
  tag?: string | undefined;
  metadata?: Record<string, string> | undefined;
  scheduledAt?: string | undefined;
  source: 'api' | 'smtp';
  /** Ids reserved earlier (idempotent retries); otherwise allocated here. */
  messageIds?: number[] | undefined;
  /** Makes event ids deterministic, so a retry of the same request appends nothing new. */
  idempotencySeed?: string | undefined;
  correlationId: string;
  actor: string;
  /**
   * The content was scanned for viruses on its way in (an incoming message an address endpoint
   * forwards): not scanned again. A virus there was refused or quarantined, and a release is the
   * operator's decision.
   */
  virusScanned?: boolean | undefined;
  /**
   * From is Postlog's own postmaster at its host name (mail it writes for a server that has no
   * postmaster address, e.g. a DSN): the operator answers for that domain, not one of the server's.
   */
  fromOwnHostname?: boolean | undefined;
  /** REQUIRETLS (RFC 8689): MAIL FROM's parameter, or /v2's `requireTls`. */
  requireTls?: boolean | undefined;
}

export interface AcceptedMessage {
  id: number;
  token: string;
  to: Mailbox;
  status: 'queued' | 'held';
  heldReason?: string;
}

export type AcceptError =
  | { code: 'UNAUTHENTICATED_FROM_ADDRESS'; message: string }
  | { code: 'NO_RECIPIENTS'; message: string }
  | { code: 'INVALID_MESSAGE_BYTES'; message: string }
  | { code: 'LOG_REJECTED'; message: string }
  | { code: 'SPAM_CHECK_UNAVAILABLE'; message: string }
  | VirusCheckError;

const EVENT_ID_NAMESPACE = '6f1d3c0e-8a53-4c1e-9a57-3b2f7f0c2d11';
/** Outbound spam checks of one request that run at the same time. */
const SCANS_AT_ONCE = 8;

/**
 * The one accept path for HTTP and SMTP: checks the sending domain, stores content, decides the
 * Accept command for each recipient (one message per recipient) and appends all of them
 * atomically. Only when this returns ok are the messages durably in the log.
 */
export interface AcceptResult {
  batchId: string;
  messages: AcceptedMessage[];
}

export async function acceptMessages(deps: AcceptDeps, req: AcceptRequest): Promise<Result<AcceptResult, AcceptError>> {
  if (req.messages.length === 0) return err({ code: 'NO_RECIPIENTS', message: 'there are no recipients' });
  // Raw entries made their bytes canonical before reading a header (this changes nothing for them);
  // composed messages are held to the same rule here, so that no path stores, signs or sends a
  // message with a NUL, a bare line end or an over-long line.
  const contents: Buffer[] = [];
  const settings = deps.deliverability ? await deps.deliverability.get(req.server.id) : undefined;
  for (const content of req.contents) {
    const canonical = canonicalMessageBytes(content, { maxLineBytes: MAX_LINE_BYTES });
    if (!canonical.ok) return err({ code: 'INVALID_MESSAGE_BYTES', message: canonical.error.message });
    // the server's Feedback-ID goes in before the content is stored, so the MTA signs it with the rest
    const feedbackId = settings ? feedbackIdLine(settings, req.server, req.tag, canonical.value) : [];
    contents.push(withHeaderLines(canonical.value, feedbackId));
  }
  const domain = req.fromOwnHostname ? undefined : await deps.tenancy.sendingDomain(req.server.id, req.from.domain);
  if (!req.fromOwnHostname && !domain?.verified) {
    return err({
      code: 'UNAUTHENTICATED_FROM_ADDRESS',
      message: `${req.from.domain} is not a verified domain of this server`,
    });
  }
  // before anything is written or counted: a virus, or a refusal for now (scanner down, tempfail), leaves no trace
  const checks = await checkContents(deps, req, contents);
  if (!checks.ok) return checks;
  // independent look-ups and writes, each a round trip to the database: at the same time, not in turn
  const [suppressed, admission, hashes, ids, pause] = await Promise.all([
    deps.suppressions.suppressed(req.server.id, [...new Set(req.messages.map((m) => normalizedAddress(m.to)))]),
    // messages past the server's hourly limit are held (as Postal does), the first ones go out
    req.server.sendLimitPerHour === null
      ? undefined
      : deps.sendLimits.admit(req.server.id, req.server.sendLimitPerHour, req.messages.length),
    deps.contents.putMany(contents),
    req.messageIds ?? deps.ids.take(req.messages.length),
    // mail of a server or sending domain the reputation guard paused is held, never dropped
    deps.reputationPauses?.holding(req.server.id, req.from.domain) ??
      reputationPause(deps.eventStore, req.server.id, req.from.domain),
  ]);
  const withinLimit = admission?.within ?? req.messages.length;
  const at = deps.clock.now().toISOString();
  const batchId = req.idempotencySeed ? uuidv5(`${req.idempotencySeed}:batch`, EVENT_ID_NAMESPACE) : randomUUID();
  const metadata: EventMetadata = { correlationId: req.correlationId, serverId: req.server.id, actor: req.actor };

  const tlsOptional = contents.map((c) => hasTlsRequiredNo(c));
  const accepted: AcceptedMessage[] = [];
  const appends = req.messages.map((m, i) => {
    const id = ids[i]!;
    const token = req.idempotencySeed ? seededToken(`${req.idempotencySeed}:${i}`) : randomToken(16);
    const suppression = suppressed.get(normalizedAddress(m.to));
    const { spam, virus } = checks.value[m.content] ?? {};
    const hold =
      req.server.mode === 'development'
        ? { reason: 'development_mode' as const, detail: 'the server is in development mode' }
        : spam?.hold
          ? spam.hold
          : suppression !== undefined
            ? { reason: 'suppressed' as const, detail: `the recipient is on the suppression list (${suppression})` }
            : pause
              ? { reason: 'reputation' as const, detail: `sending is paused: ${pause.reason}` }
              : i >= withinLimit
                ? {
                    reason: 'send_limit' as const,
                    detail: `the server's limit of ${req.server.sendLimitPerHour} messages per hour is reached`,
                  }
                : undefined;
    const command: MessageCommand = {
      type: 'Accept',
      message: {
        messageId: String(id),
        serverId: req.server.id,
        batchId,
        rfcMessageId: m.rfcMessageId,
        token,
        from: req.from.address,
        to: m.to.address,
        subject: m.subject,
        ...(req.tag !== undefined ? { tag: req.tag } : {}),
        ...((m.metadata ?? req.metadata) !== undefined ? { metadata: m.metadata ?? req.metadata } : {}),
        source: req.source,
        contentHash: hashes[m.content]!,
        size: contents[m.content]!.length,
        ...(req.scheduledAt !== undefined ? { scheduledAt: req.scheduledAt } : {}),
        ...(m.template ? { template: m.template } : {}),
        ...(spam ? { spamCheck: spam.check } : {}),
        ...(virus ? { virusCheck: virus } : {}),
        // REQUIRETLS wins over the header (RFC 8689 §5: the header is ignored then)
        ...(req.requireTls ? { requireTls: true } : tlsOptional[m.content] ? { tlsOptional: true } : {}),
      },
      ...(hold ? { hold } : {}),
      at,
    };
    const decision = decide(command, initialState());
    if (!decision.ok) throw new Error(`Accept refused for a new message: ${decision.error.message}`);
    accepted.push({
      id,
      token,
      to: m.to,
      status: hold ? 'held' : 'queued',
      ...(hold ? { heldReason: hold.reason } : {}),
    });
    return {
      streamId: messageStreamId(String(id)),
      expected: 'no_stream' as const,
      events: decision.value.map((e, j) => ({
        ...(req.idempotencySeed ? { eventId: uuidv5(`${req.idempotencySeed}:${i}:${j}`, EVENT_ID_NAMESPACE) } : {}),
        type: e.type,
        schemaVersion: messageEventCodec.schemaVersionOf(e.type),
        data: e.data,
        metadata,
      })),
    };
  });

  const appended =
    appends.length === 1
      ? await deps.eventStore.append(appends[0]!.streamId, appends[0]!.events, 'no_stream')
      : await deps.eventStore.appendMany(appends);
  if (!appended.ok)
    return err({ code: 'LOG_REJECTED', message: `the event log refused the messages: ${appended.error.code}` });
  if (admission && req.server.sendLimitPerHour !== null)
    await recordSendLimitWarnings(deps.eventStore, req.server.id, req.server.sendLimitPerHour, admission, at, metadata);
  return ok({ batchId, messages: accepted });
}

/** What the checks before acceptance said of one content. */
interface ContentChecks {
  spam?: SpamCheckOutcome;
  virus?: OutboundVirusCheck;
}

/**
 * The outbound virus scan (when configured) and spam check (when the server has a threshold and
 * spam scanners are configured) of each content, at the same time: recipients of one composed
 * message share its verdicts. A virus (or a check that could not be made, with tempfail) in any
 * content refuses the whole request.
 */
async function checkContents(
  deps: AcceptDeps,
  req: AcceptRequest,
  contents: Buffer[],
): Promise<Result<ContentChecks[], AcceptError>> {
  const threshold = req.server.outboundSpamThreshold;
  const spamCheck = threshold !== null && deps.spamCheck ? { deps: deps.spamCheck, threshold } : undefined;
  const virusCheck = req.virusScanned ? undefined : deps.virusCheck;
  if (!spamCheck && !virusCheck) return ok(contents.map(() => ({})));
  const outcomes: ContentChecks[] = [];
  // a batch with per-recipient contents is scanned a few at a time: spamd has a handful of children
  for (let from = 0; from < contents.length; from += SCANS_AT_ONCE) {
    const checked = await Promise.all(
      contents.slice(from, from + SCANS_AT_ONCE).map(async (raw, j): Promise<Result<ContentChecks, AcceptError>> => {
        const context = {
          from: req.from.address,
          rcpt: req.messages.filter((m) => m.content === from + j).map((m) => m.to.address),
        };
        const [virus, spam] = await Promise.all([
          virusCheck && checkOutboundVirus(virusCheck, raw, context),
          spamCheck && checkOutboundSpam(spamCheck.deps, spamCheck.threshold, raw, context),
        ]);
        // a virus first: it is refused for good, whatever the spam check could or could not say
        if (virus && !virus.ok) return virus;
        if (spam && !spam.ok) return spam;
        return ok({ ...(virus ? { virus: virus.value } : {}), ...(spam ? { spam: spam.value } : {}) });
      }),
    );
    for (const c of checked) {
      if (!c.ok) return c;
      outcomes.push(c.value);
    }
  }
  return ok(outcomes);
}

/** A stable 16-character token for idempotent retries. */
function seededToken(seed: string): string {
  return uuidv5(seed, EVENT_ID_NAMESPACE)
    .replace(/-/g, '')
    .slice(0, 16)
    .replace(/[0-9a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
}
