import { classifyBounce, enhancedCodeOf, type BounceVerdict } from './bounce-classification.js';
import { parseDeliveryStatus } from './reports.js';

/**
 * What a returned RFC 3464 report says of our recipient: the first failed recipient, classified
 * from its Diagnostic-Code (the remote server's reply) and Status; else whether it is only delayed.
 */
export type DeliveryReportVerdict =
  | { kind: 'failed'; diagnostic: string; verdict: BounceVerdict; remoteMta?: string }
  | { kind: 'delayed' }
  | { kind: 'none' };

export function deliveryReportVerdict(deliveryStatus: string, subject: string): DeliveryReportVerdict {
  const status = parseDeliveryStatus(deliveryStatus);
  const failed = status.recipients.find((r) => r.action === 'failed');
  if (!failed) return status.recipients.some((r) => r.action === 'delayed') ? { kind: 'delayed' } : { kind: 'none' };
  const diagnostic = failed.diagnosticCode ?? `${failed.status ?? ''} ${subject}`.trim();
  // Exim and Postfix often report a bare 5.0.0 when the remote reply has the telling code
  const generic = !failed.status || /^\d\.0\.0$/.test(failed.status);
  const verdict = classifyBounce(diagnostic, (generic && enhancedCodeOf(diagnostic)) || failed.status);
  return { kind: 'failed', diagnostic, verdict, ...(failed.remoteMta ? { remoteMta: failed.remoteMta } : {}) };
}

/** A bounce mail without a report (qmail's, some gateways'): the rule table reads its subject and text. */
export function bounceMailVerdict(subject: string, text: string): BounceVerdict {
  return classifyBounce(`${subject}\n${text}`);
}
