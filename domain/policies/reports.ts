/** Parsers for the machine-readable parts of bounce and complaint reports. Pure. */

export interface DsnRecipient {
  finalRecipient?: string;
  action?: string;
  status?: string;
  diagnosticCode?: string;
  remoteMta?: string;
}

/** RFC 822-style fields of one block ("Name: value", continuation lines folded). */
function fields(block: string): Map<string, string> {
  const out = new Map<string, string>();
  let last: string | undefined;
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) {
      out.set(last, `${out.get(last)} ${line.trim()}`);
      continue;
    }
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m) {
      last = m[1]!.toLowerCase();
      out.set(last, m[2]!.trim());
    }
  }
  return out;
}

/** "rfc822; user@example.org" → "user@example.org" */
const typed = (v: string | undefined) =>
  v === undefined ? undefined : v.includes(';') ? v.slice(v.indexOf(';') + 1).trim() : v.trim();

/** RFC 3464 message/delivery-status: the per-message block, then one block per recipient. */
export function parseDeliveryStatus(text: string): { reportingMta?: string; recipients: DsnRecipient[] } {
  const blocks = text
    .split(/\r?\n\s*\r?\n/)
    .map(fields)
    .filter((f) => f.size > 0);
  const first = blocks[0];
  const reportingMta = first && !first.has('action') ? typed(first.get('reporting-mta')) : undefined;
  const recipients = blocks
    .filter((f) => f.has('action') || f.has('final-recipient'))
    .map((f) => {
      const r: DsnRecipient = {};
      const fr = typed(f.get('final-recipient') ?? f.get('original-recipient'));
      if (fr) r.finalRecipient = fr;
      if (f.get('action')) r.action = f.get('action')!.toLowerCase();
      if (f.get('status')) r.status = f.get('status')!.split(/\s/)[0]!;
      const diag = typed(f.get('diagnostic-code'));
      if (diag) r.diagnosticCode = diag;
      const remote = typed(f.get('remote-mta'));
      if (remote) r.remoteMta = remote;
      return r;
    });
  return { ...(reportingMta ? { reportingMta } : {}), recipients };
}

/** RFC 5965 message/feedback-report. */
export function parseFeedbackReport(text: string): { feedbackType: string; userAgent?: string; sourceIp?: string } {
  const f = fields(text);
  return {
    feedbackType: (f.get('feedback-type') ?? 'abuse').toLowerCase(),
    ...(f.get('user-agent') ? { userAgent: f.get('user-agent')! } : {}),
    ...(f.get('source-ip') ? { sourceIp: f.get('source-ip')! } : {}),
  };
}

/**
 * An automatic reply (RFC 3834 Auto-Submitted: auto-replied, or the common vendor headers and
 * subjects) — recorded, never treated as a bounce. Auto-generated DSNs are not auto-replies.
 */
export function isAutoReply(headers: Map<string, string>, subject: string): boolean {
  const autoSubmitted = headers.get('auto-submitted')?.toLowerCase();
  if (autoSubmitted?.startsWith('auto-replied')) return true;
  if (
    headers.has('x-autoreply') ||
    headers.has('x-autorespond') ||
    headers.get('precedence')?.toLowerCase() === 'auto_reply'
  )
    return true;
  return /^(auto(matic)?[ -]?reply|out of (the )?office|abwesenheit|absence|r[ée]ponse automatique)/i.test(
    subject.trim(),
  );
}

/** Subjects that non-standard bounces use when they lack an RFC 3464 report. */
export const BOUNCE_SUBJECT =
  /undeliver|delivery (status notification|failure|has failed)|failure notice|returned mail|mail delivery (failed|subsystem)|non[- ]?delivery/i;
