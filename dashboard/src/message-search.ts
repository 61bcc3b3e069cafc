/**
 * The messages page's search box speaks Postal's search syntax, as Postal users type it:
 * `from:a@b.com to:c@d.com msgid:<x@y> tag:t status:held spam:yes subject:words`, a value in double quotes
 * when it has spaces (`subject:"order shipped"`), words without a prefix searched in the subject.
 * It is read here, in the browser, into the list API's own parameters (GET /v2/messages): the API
 * keeps separate parameters and has no parser of its own. No imports: test/unit/message-search.test.ts
 * loads this file as it is.
 */

/** What a search text asks for: the API's parameters (`from` is the sender, as the API names it). */
export interface SearchFilters {
  recipient?: string;
  from?: string;
  messageId?: string;
  tag?: string;
  status?: string;
  /** The scanners' verdict: Spam, NotSpam or NotChecked (Postal's spam_status). */
  spam?: string;
  q?: string;
}

export type ParsedSearch = { ok: true; filters: SearchFilters } | { ok: false; message: string };

/** Postal's prefixes (and `subject:`), each to the API parameter it fills. */
const PREFIXES: Record<string, keyof SearchFilters> = {
  from: 'from',
  to: 'recipient',
  msgid: 'messageId',
  tag: 'tag',
  status: 'status',
  spam: 'spam',
  subject: 'q',
};
/** `spam:yes` as Postal users write it, and the API's own names. */
const SPAM: Record<string, string> = {
  yes: 'Spam',
  spam: 'Spam',
  no: 'NotSpam',
  notspam: 'NotSpam',
  unchecked: 'NotChecked',
  notchecked: 'NotChecked',
};
const PREFIX_LIST = Object.keys(PREFIXES)
  .map((p) => `${p}:`)
  .join(' ');

/** The list's statuses, and Postal's names for the same ones (Sent, SoftFail, HardFail, Pending). */
const STATUSES: Record<string, string> = {
  accepted: 'accepted',
  held: 'held',
  released: 'released',
  queued: 'queued',
  deferred: 'deferred',
  delivered: 'delivered',
  bounced: 'bounced',
  failed: 'failed',
  cancelled: 'cancelled',
  // incoming messages
  routing: 'routing',
  stored: 'stored',
  rejected: 'rejected',
  pending: 'queued',
  sent: 'delivered',
  softfail: 'deferred',
  hardfail: 'failed',
};

/** A `prefix:value` (the value quoted, or up to the next space), a quoted phrase, or a word. */
const TOKEN = /([A-Za-z]+):\s*(?:"([^"]*)"?|(\S*))|"([^"]*)"?|(\S+)/g;

export function parseSearch(text: string): ParsedSearch {
  const filters: SearchFilters = {};
  const subject: string[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const [, prefix, quoted, bare, phrase, word] = m;
    if (prefix === undefined) {
      subject.push((phrase ?? word ?? '').trim());
      continue;
    }
    const key = PREFIXES[prefix.toLowerCase()];
    if (!key)
      return {
        ok: false,
        message: `"${prefix}:" is not a search prefix. Use ${PREFIX_LIST} (days: the From and To fields); put a colon in quotes: subject:"Re: hello".`,
      };
    const value = (quoted ?? bare ?? '').trim();
    if (!value) return { ok: false, message: `"${prefix}:" needs a value, e.g. ${prefix}:${EXAMPLES[key]}.` };
    if (key === 'q') {
      subject.push(value);
      continue;
    }
    if (filters[key] !== undefined) return { ok: false, message: `"${prefix}:" can be given once.` };
    if (key === 'status') {
      const status = STATUSES[value.toLowerCase()];
      if (!status)
        return {
          ok: false,
          message: `"status:${value}" is not a status. Use one of ${Object.keys(STATUSES).join(', ')}.`,
        };
      filters.status = status;
    } else if (key === 'spam') {
      const verdict = SPAM[value.toLowerCase()];
      if (!verdict)
        return { ok: false, message: `"spam:${value}" is not a verdict. Use spam:yes, spam:no or spam:unchecked.` };
      filters.spam = verdict;
    } else if (key === 'recipient' && value.startsWith('@')) {
      return { ok: false, message: `"to:" takes a whole address (from: also takes a domain, from:${value}).` };
    } else filters[key] = value;
  }
  const words = subject.filter(Boolean).join(' ');
  if (words.length > 200) return { ok: false, message: 'The subject text is longer than 200 characters.' };
  if (words) filters.q = words;
  return { ok: true, filters };
}

const EXAMPLES: Record<keyof SearchFilters, string> = {
  recipient: 'someone@example.com',
  from: 'shop@example.com',
  messageId: '<id@example.com>',
  tag: 'welcome',
  status: 'held',
  spam: 'yes',
  q: '"order shipped"',
};

/** The search text of these filters, for the box to show what the list is filtered by. */
export function searchText(filters: SearchFilters): string {
  const value = (v: string) => (/[\s"]/.test(v) ? `"${v.replaceAll('"', '')}"` : v);
  return Object.entries(PREFIXES)
    .flatMap(([prefix, key]) => {
      const v = filters[key];
      if (!v) return [];
      if (key === 'spam') return [`spam:${v === 'Spam' ? 'yes' : v === 'NotSpam' ? 'no' : 'unchecked'}`];
      return [`${prefix}:${key === 'messageId' && !v.startsWith('<') ? `<${v}>` : value(v)}`];
    })
    .join(' ');
}
