import type { FormatInput } from './format.js';

/**
 * What the vendor formats say about an event, read from its Postal payload (postal-payloads.ts),
 * so each format maps the same facts and none re-reads the payload's shapes.
 */
export interface EventFacts {
  /** When it happened, in unix seconds (fractional). */
  at: number;
  /** The SMTP reply of a delivery attempt ("250 2.0.0 OK"), when there was one. */
  reply: string | null;
  /** Postal's "details": a sentence saying what happened. */
  details: string | null;
  /** A bounce, a refusal or a deferral: permanent or not, and what the receiving side said. */
  failure: {
    permanent: boolean;
    diagnostic: string;
    /** The SMTP code (550), when the diagnostic starts with one. */
    smtpCode: number | null;
    /** The enhanced status code (5.1.1), when known. */
    enhancedCode: string | null;
  } | null;
  ip: string | null;
  userAgent: string | null;
  /** The link of a click. */
  url: string | null;
  /** An open or click by a machine (a mail scanner, a privacy proxy), not a person. */
  machine: boolean;
  /** A complaint's feedback type (abuse, fraud, …). */
  feedbackType: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};

/** "550 5.1.1 text" -> 550 and "5.1.1" (either null when absent). */
export function smtpCodes(text: string | null): { smtpCode: number | null; enhancedCode: string | null } {
  const code = text ? /^\s*([245]\d\d)\b/.exec(text)?.[1] : undefined;
  const enhanced = text ? /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1] : undefined;
  return { smtpCode: code ? Number(code) : null, enhancedCode: enhanced ?? null };
}

export function eventFacts(input: FormatInput): EventFacts {
  const p = input.payload;
  const bounce = obj(p.bounce);
  const at = Number(p.timestamp ?? bounce.timestamp);
  const reply = str(p.output);
  const details = str(p.details);
  let failure: EventFacts['failure'] = null;
  if (input.event === 'MessageBounced') {
    const diagnostic = str(bounce.diagnostic) ?? '';
    const codes = smtpCodes(diagnostic);
    failure = {
      permanent: bounce.type === 'hard',
      diagnostic,
      smtpCode: codes.smtpCode,
      enhancedCode: str(bounce.enhanced_code) ?? codes.enhancedCode,
    };
  } else if (input.event === 'MessageDeliveryFailed' || input.event === 'MessageDelayed') {
    const diagnostic = reply ?? details ?? '';
    failure = { permanent: input.event === 'MessageDeliveryFailed', diagnostic, ...smtpCodes(diagnostic) };
  }
  return {
    at: Number.isFinite(at) ? at : input.recordedAt.getTime() / 1000,
    reply,
    details,
    failure,
    ip: str(p.ip_address),
    userAgent: str(p.user_agent),
    url: input.event === 'MessageLinkClicked' ? str(p.url) : null,
    machine: p.machine === true,
    feedbackType: str(p.feedback_type),
  };
}

/** An RFC 3339 time of unix seconds. */
export const isoOf = (seconds: number) => new Date(Math.round(seconds * 1000)).toISOString();

/** A Message-ID without its angle brackets. */
export const bareMessageId = (id: string) => id.replace(/^<|>$/g, '');
