import PostalMime from 'postal-mime';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { canonicalMessageBytes } from '../../domain/index.js';
import { smtpReply, type SmtpReplyError } from '../../infra/smtp/reply-catalogue.js';
import { coalesceWritesPerTick } from '../../infra/streams/writes-per-tick.js';
import type { TlsMaterial } from '../../infra/tls/certificate.js';
import { parseVerp } from '../signing/prepare-message.js';
import { readSubmittedHeaders } from '../../write-side/send/submitted-headers.js';
import { parseUnsubscribeMailbox } from '../../write-side/tracking/tokens.js';
import { type Email, processInbound, type InboundDeps } from './inbound-processor.js';
import { receiveRouted, type ReceiveRoutedDeps } from './receive-routed.js';
import { returnBounces } from './return-bounces.js';
import { ScanUnavailable } from './inbound-scan.js';
import { isDmarcReportAddress, processDmarcReport } from './dmarc-report-mail.js';

/** The sending server, as the session knows it. */
const envelopeOf = (session: SMTPServerSession) => ({
  mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
  clientIp: session.remoteAddress.replace(/^::ffff:/, ''),
  helo: session.hostNameAppearsAs ?? '',
  tls: session.secure,
});

export interface InboundOptions {
  hostname: string;
  tls: TlsMaterial;
  maxMessageBytes: number;
  /** More Received headers than this: a mail loop. */
  maxReceivedHeaders?: number;
  /** DMARC aggregate reports are taken at this local part of our host name and of verified domains ('' or absent: none). */
  dmarcReportLocalPart?: string;
  onMessage?: (outcome: string) => void;
}

/**
 * The inbound MX for bounces and complaints. It takes mail only for our VERP return paths and
 * for the feedback addresses (abuse@, fbl@, postmaster@ on our own host name), for DMARC aggregate
 * reports (dmarc-report-mail.ts) and for routed addresses; it relays nothing,
 * so it needs no authentication.
 */
export function createInboundServer(
  deps: InboundDeps & Omit<ReceiveRoutedDeps, 'eventStore' | 'contents' | 'clock' | 'logger'>,
  o: InboundOptions,
): SMTPServer {
  const log = deps.logger.child({ component: 'inbound' });
  const ours = (address: string) => {
    if (parseVerp(address) || parseUnsubscribeMailbox(address)) return true;
    const [local, domain] = [
      address.slice(0, address.lastIndexOf('@')).toLowerCase(),
      address.slice(address.lastIndexOf('@') + 1).toLowerCase(),
    ];
    return (
      ['abuse', 'fbl', 'postmaster', 'feedback'].includes(local) &&
      (domain === o.hostname.toLowerCase() || domain === `rp.${o.hostname.toLowerCase()}`)
    );
  };
  /**
   * A DMARC report address: the local part at our host name, or at a domain a server sends from
   * (verified). It comes before routes: a route for that address never sees the reports.
   */
  const dmarcAddress = async (address: string) => {
    if (!isDmarcReportAddress(address, o.dmarcReportLocalPart ?? '')) return false;
    const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
    return domain === o.hostname.toLowerCase() || (await deps.tenancy.serverSendingFrom(domain)) !== undefined;
  };
  /**
   * Routed recipients' mail becomes incoming messages (receive-routed.ts); the rest is a report for
   * us. A message every routed recipient of which bounces or is refused is answered with a 5xx.
   */
  async function handle(
    raw: Buffer,
    rcpts: string[],
    session: SMTPServerSession,
    email: Email,
  ): Promise<{ outcome: string; refusal?: SmtpReplyError }> {
    const outcomes: string[] = [];
    const dmarc = new Set<string>();
    for (const r of rcpts) if (!ours(r) && (await dmarcAddress(r))) dmarc.add(r);
    const routed = (
      await Promise.all(
        rcpts
          .filter((r) => !ours(r) && !dmarc.has(r))
          .map(async (rcpt) => ({ rcpt, route: await deps.routes.match(rcpt) })),
      )
    ).flatMap(({ rcpt, route }) => (route ? [{ rcpt, route }] : []));
    const reports = rcpts.filter(ours);
    const arrivedAt = deps.clock.now();
    const envelope = envelopeOf(session);
    let refusal: SmtpReplyError | undefined;
    let received: Awaited<ReturnType<typeof receiveRouted>> = [];
    if (routed.length > 0) {
      received = await receiveRouted({ ...deps, logger: log }, raw, email, envelope, routed);
      outcomes.push(...new Set(received.map((r) => r.disposition)));
      const refused = received.filter((r) => r.reply !== undefined);
      const first = refused[0];
      if (first && reports.length === 0 && dmarc.size === 0 && refused.length === received.length)
        refusal = smtpReply(first.disposition === 'bounce' ? 'ROUTE_BOUNCES' : 'CONTENT_REFUSED', first.reply);
    }
    if (reports.length > 0) outcomes.push((await processInbound(deps, raw, reports, email, envelope)).kind);
    // one report however many report addresses the mail was sent to
    if (dmarc.size > 0) outcomes.push(await processDmarcReport({ ...deps, logger: log }, raw, envelope));
    // answered 250: the bounced recipients' DSNs are ours to send (a 5xx has the sender's server write them);
    // last, so that nothing after them can fail the message into a 451 and a retry that sends them again
    if (!refusal) await returnBounces(deps.returnToSender, log, raw, envelope, received, arrivedAt);
    return { outcome: outcomes.join(', ') || 'ignored', ...(refusal ? { refusal } : {}) };
  }

  return new SMTPServer({
    key: o.tls.key,
    cert: o.tls.cert,
    name: o.hostname,
    banner: 'Postlog inbound',
    disabledCommands: ['AUTH'],
    size: o.maxMessageBytes,
    rejectOversized: true,
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 10_000,
    onSecure(socket, _session, callback) {
      // a sender's pipelined MAIL, RCPT and DATA are answered in one tick: their replies leave in one record
      coalesceWritesPerTick(socket);
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (ours(address.address)) return callback();
      // an address a server routes: refused here when its route rejects mail (Postal's Reject mode)
      dmarcAddress(address.address)
        .then(async (dmarc) => (dmarc ? 'dmarc' : await deps.routes.match(address.address)))
        .then(
          (route) =>
            callback(
              route === 'dmarc'
                ? undefined
                : !route
                  ? smtpReply('NO_SUCH_RECIPIENT')
                  : route.mode === 'reject'
                    ? smtpReply('ROUTE_REJECTS')
                    : undefined,
            ),
          () => callback(smtpReply('TEMPORARY_FAILURE')),
        );
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        if (stream.sizeExceeded) return callback(smtpReply('MESSAGE_TOO_BIG'));
        // line ends and NULs decided once, as on submission (lines are not limited: nothing here relays them)
        const canonical = canonicalMessageBytes(Buffer.concat(chunks));
        if (!canonical.ok) return callback(smtpReply('INVALID_MESSAGE_BYTES', canonical.error.message));
        const raw = canonical.value;
        // a message the parser would refuse is refused for good here: a 4xx would have the sender retry forever
        const headers = readSubmittedHeaders(raw);
        if (!headers.ok) return callback(smtpReply('MESSAGE_TOO_BIG', headers.error));
        const head = raw.subarray(0, Math.max(0, raw.indexOf('\r\n\r\n'))).toString('latin1');
        const received = (head.match(/^Received:/gim) ?? []).length;
        if (received > (o.maxReceivedHeaders ?? 50)) return callback(smtpReply('ROUTING_LOOP'));
        const rcpts = session.envelope.rcptTo.map((r) => r.address);
        // the whole message must parse (postal-mime limits every part's headers and the nesting):
        // one that does not is refused for good, before anything is stored
        PostalMime.parse(raw, { attachmentEncoding: 'utf8' }).then(
          (email) => accept(raw, rcpts, email),
          (err: Error) => {
            log.warn({ rcpt: rcpts, error: err.message }, 'inbound message refused: it cannot be parsed');
            o.onMessage?.('refused');
            callback(smtpReply('INVALID_MESSAGE_BYTES', `The message cannot be parsed: ${err.message}`));
          },
        );
      });
      const accept = (raw: Buffer, rcpts: string[], email: Email) =>
        handle(raw, rcpts, session, email).then(
          ({ outcome, refusal }) => {
            log.info({ rcpt: rcpts, outcome }, 'inbound message processed');
            o.onMessage?.(outcome);
            if (refusal) return callback(refusal);
            callback(null, `2.0.0 Ok (${outcome})`);
          },
          (err: Error) => {
            if (err instanceof ScanUnavailable) {
              // POSTLOG_SCAN_FAILURE=tempfail: the sender keeps the message and tries again later
              log.warn({ rcpt: rcpts, error: err.message }, 'inbound message deferred: no scanner verdict');
              const virusOnly = err.scanners.every((s) => s === 'clamav');
              return callback(smtpReply(virusOnly ? 'VIRUS_SCAN_UNAVAILABLE' : 'SPAM_CHECK_UNAVAILABLE'));
            }
            log.error({ error: err.message }, 'processing an inbound message failed');
            callback(smtpReply('TEMPORARY_FAILURE'));
          },
        );
    },
  });
}
