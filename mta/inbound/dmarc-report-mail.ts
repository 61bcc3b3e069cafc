import PostalMime from 'postal-mime';
import { parseDmarcReportXml, type DmarcRefusalReason } from '../../domain/index.js';
import type { Clock } from '../../infra/clock/index.js';
import type { ContentStore } from '../../infra/content/index.js';
import type { EventStore } from '../../infra/event-store/index.js';
import type { Logger } from '../../infra/logging/index.js';
import type { TenancyStore } from '../../infra/tenancy/index.js';
import { recordDmarcReport, recordRefusedDmarcReport } from '../../write-side/dmarc/index.js';
import { reportAttachmentKind, reportXmlOf } from './dmarc-report-archive.js';
import type { Envelope } from './receive-routed.js';

export interface DmarcReportDeps {
  eventStore: EventStore;
  contents: ContentStore;
  tenancy: TenancyStore;
  clock: Clock;
  logger: Logger;
}

export type DmarcReportOutcome = 'dmarc-report' | 'dmarc-report-repeated' | 'dmarc-report-refused';

/** Whether an address is a DMARC report address: its local part is the configured one (any case). */
export const isDmarcReportAddress = (address: string, localPart: string) =>
  localPart !== '' && address.slice(0, address.lastIndexOf('@')).toLowerCase() === localPart.toLowerCase();

/**
 * A mail to the DMARC report address (docs/deliverability.md, "DMARC reports"): its first report
 * attachment (.xml, .xml.gz or .zip) is read, bounded, and recorded as DmarcReportReceived for the
 * verified domain the report's policy names. A mail that is not a readable report (no attachment,
 * a zip bomb, XML with entities, another domain) is kept in the content store and recorded as
 * DmarcReportRefused with the reason, and logged; either way the reporter is answered 250, as a
 * retry would bring the same bytes again. Only a log that cannot be written answers 451.
 */
export async function processDmarcReport(
  deps: DmarcReportDeps,
  raw: Buffer,
  envelope: Envelope,
): Promise<DmarcReportOutcome> {
  const log = deps.logger;
  const at = deps.clock.now().toISOString();
  const contentHash = await deps.contents.put(raw);
  // parsed again: the inbound server's parse gives attachments as text, and reports are gzip or zip
  const email = await PostalMime.parse(raw);
  const subject = (email.subject ?? '').slice(0, 998);
  const refuse = async (reason: DmarcRefusalReason, message: string, domain?: string, serverId?: string) => {
    log.warn(
      { from: envelope.mailFrom, subject, reason, contentHash, error: message },
      'DMARC report refused: kept as a refused report',
    );
    await recordRefusedDmarcReport(deps.eventStore, {
      reason,
      message: message.slice(0, 1000),
      mailFrom: envelope.mailFrom.slice(0, 500),
      subject,
      contentHash,
      at,
      ...(domain ? { domain } : {}),
      ...(serverId ? { serverId } : {}),
    });
    return 'dmarc-report-refused' as const;
  };
  const attachment = email.attachments
    .map((a) => ({ a, kind: reportAttachmentKind(a.filename ?? '', a.mimeType) }))
    .find((x) => x.kind !== undefined);
  if (!attachment?.kind) return refuse('no-report', 'no .xml, .xml.gz or .zip attachment');
  const content = attachment.a.content;
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content as ArrayBuffer);
  const xml = await reportXmlOf(attachment.kind, bytes);
  if (!xml.ok) return refuse(xml.error.reason, xml.error.message);
  const report = parseDmarcReportXml(xml.value);
  if (!report.ok) return refuse(report.error.reason, report.error.message);
  const domain = report.value.policy.domain;
  const server = await deps.tenancy.serverSendingFrom(domain);
  if (!server) return refuse('unknown-domain', `${domain} is not a verified domain of any server`, domain);
  const recorded = await recordDmarcReport(deps.eventStore, {
    ...report.value,
    serverId: server.id,
    domain,
    contentHash,
    at,
  });
  log.info(
    {
      domain,
      reporter: report.value.reporterOrg,
      reportId: report.value.reportId,
      records: report.value.records.length,
      recorded,
    },
    recorded === 'recorded' ? 'DMARC report recorded' : 'DMARC report received again (already recorded)',
  );
  return recorded === 'recorded' ? 'dmarc-report' : 'dmarc-report-repeated';
}
