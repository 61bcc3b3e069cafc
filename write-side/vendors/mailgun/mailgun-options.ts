import { z } from 'zod';
import { badParameter, type MailgunFailure } from './mailgun-errors.js';
import { isFailure, single, type MailgunForm } from './mailgun-form.js';

/** Mailgun's booleans: `yes`/`no` (its clients send these), `true`/`false`, in any case. */
const YesNo = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['yes', 'no', 'true', 'false']))
  .transform((v) => v === 'yes' || v === 'true');

/** `o:tracking-clicks` also takes `htmlonly`: what Postlog does anyway (it rewrites links of the HTML part only). */
const ClickTracking = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['yes', 'no', 'true', 'false', 'htmlonly']))
  .transform((v) => v !== 'no' && v !== 'false');

/** An RFC 2822 date as Mailgun's `o:deliverytime` takes it: "Fri, 14 Oct 2011 23:10:10 -0000". */
const RFC2822 =
  /^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|UT|GMT|[ECMP][SD]T|Z)$/;

/** Postlog's scheduler holds a message at most this long (as /v2's send_at). */
export const MAX_SCHEDULE_MS = 30 * 86_400_000;
export const MAX_TAGS = 10;
export const MAX_TAG_LENGTH = 128;

const Tag = z
  .string()
  .min(1, 'is empty')
  .max(MAX_TAG_LENGTH, `is longer than ${MAX_TAG_LENGTH} characters`)
  .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

/**
 * Mailgun parameters that Postlog has no equivalent for, and why: each is refused with Mailgun's error shape
 * (never dropped), unless it asks for what Postlog does anyway (`accepts`: the values taken).
 */
export const REFUSED_OPTIONS: Record<string, { why: string; accepts?: string[] }> = {
  'amp-html': { why: 'Postlog does not send AMP parts' },
  'o:dkim': { why: "Postlog signs every message with its domain's DKIM key", accepts: ['yes', 'true'] },
  'o:secondary-dkim': { why: "Postlog signs with the sending domain's own key only" },
  'o:secondary-dkim-public': { why: "Postlog signs with the sending domain's own key only" },
  'o:require-tls': {
    why: "TLS is required per destination domain by the operator's configuration (destinations, mta tls), not per message",
    accepts: ['no', 'false'],
  },
  // opportunistic TLS is not verified anyway, and TLS is never required per message (o:require-tls above)
  'o:skip-verification': {
    why: 'Postlog verifies certificates only where the configuration requires TLS',
    accepts: ['yes', 'no', 'true', 'false'],
  },
  'o:sending-ip': { why: "outgoing addresses come from the server's IP pool (POSTLOG ipPools)" },
  'o:sending-ip-pool': { why: "outgoing addresses come from the server's IP pool (POSTLOG ipPools)" },
  'o:deliverytime-optimize-period': { why: 'Postlog has no send-time optimization' },
  'o:time-zone-localize': { why: 'Postlog has no time-zone localized delivery' },
  'o:archive-to': { why: 'Postlog keeps every message itself (GET /v2/messages/{id}/raw); it does not post copies' },
  'o:tracking-pixel-location-top': {
    why: 'Postlog puts the open pixel at the end of the HTML',
    accepts: ['no', 'false'],
  },
  'o:suppress-headers': { why: 'Postlog adds no X-Mailgun-* headers to suppress' },
  't:text': { why: 'a Postlog template has its own text part', accepts: ['no', 'false'] },
};

/** The `o:` options Postlog maps. */
export interface MailgunOptions {
  testMode: boolean;
  /** In order; the first is Postlog's tag. */
  tags: string[];
  /** ISO time, when `o:deliverytime` was given. */
  scheduledAt?: string | undefined;
  trackOpens?: boolean | undefined;
  trackClicks?: boolean | undefined;
}

/** Reads the options of a request; `now` decides how far ahead a delivery time may be. */
export function readOptions(form: MailgunForm, now: Date): MailgunOptions | MailgunFailure {
  for (const [name, rule] of Object.entries(REFUSED_OPTIONS)) {
    const values = form.fields.get(name);
    if (!values) continue;
    if (!rule.accepts || values.some((v) => !rule.accepts!.includes(v.trim().toLowerCase())))
      return badParameter(`${name} parameter is not supported by Postlog: ${rule.why}`);
  }
  const flag = (name: string, schema: typeof YesNo | typeof ClickTracking = YesNo) => {
    const value = single(form, name);
    if (value === undefined || isFailure(value)) return value;
    const parsed = schema.safeParse(value);
    return parsed.success ? parsed.data : badParameter(`${name} parameter must be yes or no, not "${value}"`);
  };
  const testMode = flag('o:testmode');
  const tracking = flag('o:tracking');
  const opens = flag('o:tracking-opens');
  const clicks = flag('o:tracking-clicks', ClickTracking);
  for (const v of [testMode, tracking, opens, clicks]) if (isFailure(v)) return v;

  const tags = form.fields.get('o:tag') ?? [];
  if (tags.length > MAX_TAGS) return badParameter(`o:tag parameter is given ${tags.length} times; at most ${MAX_TAGS}`);
  for (const tag of tags) {
    const parsed = Tag.safeParse(tag);
    if (!parsed.success) return badParameter(`o:tag "${tag}" ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
  }

  const delivery = single(form, 'o:deliverytime');
  if (isFailure(delivery)) return delivery;
  let scheduledAt: string | undefined;
  if (delivery !== undefined) {
    const at = Date.parse(delivery);
    if (!RFC2822.test(delivery.trim()) || Number.isNaN(at))
      return badParameter(`o:deliverytime parameter is not a valid RFC 2822 date: "${delivery}"`);
    if (at > now.getTime() + MAX_SCHEDULE_MS)
      return badParameter('o:deliverytime parameter is more than 30 days ahead; Postlog schedules up to 30 days');
    scheduledAt = new Date(at).toISOString();
  }
  // o:tracking turns both on or off; the specific switches, when given, decide their own kind
  const on = tracking as boolean | undefined;
  return {
    testMode: testMode === true,
    tags,
    scheduledAt,
    trackOpens: (opens as boolean | undefined) ?? on,
    trackClicks: (clicks as boolean | undefined) ?? on,
  };
}
