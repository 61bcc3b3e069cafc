/**
 * The bounce classification rule table. Read top to bottom; the first matching rule wins.
 * `status` matches the RFC 3463 enhanced status code (e.g. "5.1.1"), `text` the reply or
 * diagnostic text. `suppress`: whether the recipient should be put on the suppression list
 * (only when the mailbox itself is the problem — never for policy or reputation blocks).
 *
 * To add a rule, add a line (with an id, and a case with a real reply in its test). Keep specific rules
 * above general ones. test/fixtures/bounce-corpus.yaml measures the whole table against replies and
 * reports as the large providers word them (test/core/bounce-corpus.test.ts, `npm run bench -- bounce-corpus`):
 * a change here is checked against all of them.
 */
export type BounceCategory =
  | 'bad-mailbox'
  | 'mailbox-full'
  | 'policy'
  | 'spam-block'
  | 'auth-failure'
  | 'dns'
  | 'routing'
  | 'content'
  | 'other'
  /** The sending IP or domain refused for its reputation: block lists, complaints, bans. */
  | 'reputation'
  /** Throttled (too many connections, messages or recipients) or greylisted: slow down or come back. */
  | 'rate-limit';

export interface BounceRule {
  /** Names the rule in tests and reviews (test/core/bounce-rules.test.ts has a case for each). */
  id: string;
  status?: RegExp;
  text?: RegExp;
  /** The rule does not apply to a reply with such a code (a 5.7.x block is never a bad mailbox). */
  unlessStatus?: RegExp;
  category: BounceCategory;
  suppress: boolean;
}

/** Matches any of the alternatives, case-insensitively: one wording per line, with whose it is. */
const anyOf = (...alternatives: RegExp[]) => new RegExp(alternatives.map((a) => a.source).join('|'), 'i');

// prettier-ignore
export const BOUNCE_RULES: readonly BounceRule[] = [
  // ---- text that is more precise than the status code it comes with -------------------------
  // a block list by name, or a gateway's "see our IP check" link: the sending IP's reputation, whatever
  // code comes with it
  {
    id: 'text-blocklist',
    text: anyOf(
      /spamhaus|spamcop|\brbl\b|dnsbl|blackhole|black ?list|block ?list(ed)?|listed (at|on|in)/,
      /blocked using/, // Postfix reject_rbl_client: "Client host [ip] blocked using zen.spamhaus.org"
      /barracuda ?(reputation|central)|barracudacentral/, // Barracuda Reputation Block List
      /ipcheck\.proofpoint/, // Proofpoint (also in front of iCloud): "Blocked - see https://ipcheck.proofpoint.com"
      /senderbase/, // Cisco IronPort
      /spamsource/, // Yandex
    ),
    category: 'reputation',
    suppress: false,
  },
  {
    id: 'text-reputation',
    text: anyOf(
      /reputation/, // Gmail "very low reputation of the sending IP/domain"; Barracuda, Mimecast, Comcast
      /unusual rate of (unsolicited )?mail/, // Gmail 421 4.7.0 and 4.7.28
      /banned send(ing ip|er)/, // Microsoft 5.7.511, 5.7.606-649 "Access denied, banned sending IP"
      /traffic not accepted from this ip/, // Microsoft 5.7.708
      /\bSC-00\d\b/, // Outlook.com SC-001..004: the sending network refused
      /user complaints|permanently deferred/, // Yahoo TSS04, TS01-03, TSS09
      /excessive unknown recipients/, // Yahoo TSS11
      /sent too much spam/, // Comcast BL000000
      /blocked for spamming|incident de spam|\bLPN105_104\b|\bOFR_999\b/, // Orange: the sending IP refused
    ),
    category: 'reputation',
    suppress: false,
  },
  // (SMTP AUTH's "authentication required" is a policy: see text-policy)
  {
    id: 'text-authentication',
    text: anyOf(
      /dmarc|\bspf\b|\bdkim\b/,
      /unauthenticated (e-?mail|mail|message)|sender is unauthenticated/, // Gmail and Yahoo 5.7.26 / 5.7.9
      /authentication level/, // Microsoft 5.7.515 "does not meet the required authentication level"
      /\bptr\b|reverse (dns|hostname)/, // Gmail 5.7.25 "PTR record"; GMX/Web.de "Bad DNS PTR resource record"
      /cannot find your (reverse )?hostname/, // Postfix reject_unknown_client_hostname
    ),
    category: 'auth-failure',
    suppress: false,
  },
  // the message's form, before the spam words such a reply often carries
  {
    id: 'text-message-format',
    text: anyOf(
      /rfc ?5322|valid address in from/, // Gmail "not RFC 5322 compliant", "missing a valid address in From:"
      /header line too long|header too long/, // Postfix, Yahoo, Sendmail
      /invalid header:/, // Exim
      /bare ?(lf|linefeed)/, // Microsoft 5.6.11 "BareLinefeedsAreIllegal"
    ),
    category: 'content',
    suppress: false,
  },
  // the message judged spam, phishing or malware
  {
    id: 'text-spam',
    text: anyOf(
      /\bspam\b|junk mail|unsolicited|bulk mail|content rejected as spam/, // Gmail "likely unsolicited mail"
      /spam ?assassin|rspamd|content filter/, // filters named in Postfix/Exim replies; Barracuda BSF
      /virus|malware|malicious|phishing/,
      /suspicious link|illegal attachment|security issue/, // Gmail 5.7.0 / 5.7.1
      /content restrictions/, // GMX/Web.de "Reject due to content restrictions"
      /\[PH01\]/, // Yahoo: phishing or content
    ),
    category: 'spam-block',
    suppress: false,
  },
  // our envelope sender, HELO or sending domain refused: never the recipient's fault
  {
    id: 'text-sender-rejected',
    text: anyOf(
      /sender (address )?(rejected|denied|not permitted)/, // Postfix "Sender address rejected", Comcast
      /sender verify failed|verification failed for/, // Exim sender callout
      /domain of sender address|sender domain (does not resolve|must exist)|envelope sender domain/, // Sendmail, qmail
      /sender is not (allowed|authori[sz]ed)|sender not (permitted|in allowed)/, // Exim lists, Zoho groups
      /does not accept mail from your sender/, // qmail chkuser
      /helo command rejected|invalid helo/, // Postfix, Orange
      /unresolvable rfc\.?5321 from domain/, // Yahoo 451
      /invalid dns mx or a\/aaaa/, // GMX/Web.de: the sender domain's DNS, despite "mailbox unavailable"
    ),
    category: 'policy',
    suppress: false,
  },
  // throttling and greylisting
  {
    id: 'text-rate-limit',
    text: anyOf(
      /gr[ae]ylist/, // Postgrey, milter-greylist, Exim, Zoho, GMX
      /too many (concurrent |smtp )*(connections|messages|recipients)|too much mail/, // Postfix, Exim, most
      /rate ?limit|throttl|slow down/,
      /receiving mail (too quickly|at a rate|at too high a rate)/, // Gmail 4.2.1, iCloud
      /policy size per transaction/, // Gmail 4.5.3
      /excessive connection rate|max(imum)? messages? per connection/, // Yahoo TS06, 421
      /maximum number of concurrent|toomanyrecipients|per (hour|minute) and/, // Microsoft 4.3.2, RP-001
      /server busy\. please try again later from|\bRP-00\d\b/, // Microsoft 4.7.500, Outlook.com RP-001
      /trop de (connexions|destinataires)|\bOFR005_\d+/, // Orange
    ),
    category: 'rate-limit',
    suppress: false,
  },
  {
    id: 'text-mailbox-full',
    text: anyOf(
      /over ?quota|quota exceeded|mailbox (is )?(temporarily )?full|insufficient (system )?storage/,
      /mailbox size limit|out of storage space/, // Microsoft 5.2.2, Gmail 4.2.2 / 5.2.2
      /destinataire pleine/, // Orange
    ),
    category: 'mailbox-full',
    suppress: false,
  },
  // the recipient domain does not resolve
  {
    id: 'text-domain-not-found',
    text: anyOf(
      /host (or domain name )?not found|no mx|null ?mx|nxdomain/, // Postfix, Gmail
      /domain (name |\S+ )?(does not exist|not found)/, // Microsoft 5.4.310, Exim, Gmail
      /smtpsend\.dns|dns query failed/, // Microsoft
      /couldn't find any host/, // qmail
      /host unknown|unknown host/, // Sendmail
      /mx records point to non-existent/, // Exim
    ),
    category: 'dns',
    suppress: false,
  },
  // never with a 5.7.x code: a policy block that names the recipient (Postfix "554 5.7.1 <a@b>:
  // Recipient address rejected: Access denied") must not suppress a good address
  {
    id: 'text-bad-mailbox',
    text: anyOf(
      /user (is )?unknown|unknown user|no such (user|mailbox|recipient)|unknown recipient/,
      /does not exist|doesn't exist|invalid (recipient|mailbox)|undeliverable address/,
      /recipient (address )?rejected|address rejected/, // (Microsoft 5.4.1 "… Access denied": edge blocking)
      /mailbox (unavailable|not found|disabled|is disabled|is inactive)/, // Microsoft, Yahoo 554.30, Zoho
      /account (has been |is )?disabled/, // Yahoo #102, iCloud
      /doesn't have an? [\w.-]+ account/, // Yahoo "This user doesn't have a yahoo.com account"
      /recipientnotfound/, // Microsoft 5.1.10 "RESOLVER.ADR.RecipientNotFound"
      /no mailbox here/, // qmail "Sorry, no mailbox here by that name. (#5.1.1)"
      /not our customer/, // Comcast
      /unknown or illegal alias|inactive email address/, // iCloud
      /unrouteable address/, // Exim, when the recipient cannot be verified
    ),
    unlessStatus: /^[45]\.7\.\d+$/,
    category: 'bad-mailbox',
    suppress: true,
  },
  {
    id: 'text-relay-denied',
    text: anyOf(
      /relay(ing)? (access )?(denied|not permitted|disallowed)|not allowed to relay|unable to relay/,
      /allowed rcpthosts/, // qmail
    ),
    category: 'policy',
    suppress: false,
  },
  {
    id: 'text-message-size',
    text: anyOf(
      /message (size|too (big|large))|exceeds (the )?(maximum )?size/,
      /size limit exceeded|exceeds [\w' ]{0,30}size limit/, // Postfix, Yahoo, Barracuda
      /databytes/, // qmail
      /trop volumineux/, // Orange
    ),
    category: 'content',
    suppress: false,
  },

  // ---- RFC 3463 enhanced status codes ------------------------------------------------------
  // null MX (RFC 7505)
  { id: 'status-null-mx', status: /^5\.1\.10$/, category: 'dns', suppress: false },
  // bad mailbox / syntax / moved
  { id: 'status-bad-mailbox-address', status: /^5\.1\.[136]$/, category: 'bad-mailbox', suppress: true },
  // bad destination system
  { id: 'status-bad-destination-system', status: /^5\.1\.2$/, category: 'dns', suppress: false },
  // bad sender's mailbox or system address (Microsoft 5.1.8 "bad outbound sender"): ours, not the recipient's
  { id: 'status-bad-sender-address', status: /^[45]\.1\.[78]$/, category: 'policy', suppress: false },
  { id: 'status-addressing', status: /^5\.1\.\d+$/, category: 'bad-mailbox', suppress: true },
  // mailbox disabled
  { id: 'status-mailbox-disabled', status: /^5\.2\.1$/, category: 'bad-mailbox', suppress: true },
  { id: 'status-mailbox-full', status: /^[45]\.2\.2$/, category: 'mailbox-full', suppress: false },
  // message too big
  { id: 'status-message-too-big', status: /^[45]\.(2\.3|3\.4)$/, category: 'content', suppress: false },
  // too many recipients (X.5.3); Exchange Online 4.7.500-699 "Access denied, please try again later"
  // (a new or unusual sending IP throttled)
  { id: 'status-rate-limit', status: /^([45]\.5\.3|4\.7\.[56]\d\d)$/, category: 'rate-limit', suppress: false },
  { id: 'status-routing', status: /^[45]\.4\.\d+$/, category: 'routing', suppress: false },
  { id: 'status-media', status: /^5\.6\.\d+$/, category: 'content', suppress: false },
  // SPF/DKIM/DMARC results, reverse DNS (RFC 7372)
  {
    id: 'status-sender-authentication',
    status: /^[45]\.7\.(2[3-7]|1[5-9]|2[0-2])$/,
    category: 'auth-failure',
    suppress: false,
  },
  // a policy block is never the mailbox's fault
  { id: 'status-policy', status: /^5\.7\.\d+$/, category: 'policy', suppress: false },
  { id: 'status-mail-system', status: /^5\.3\.\d+$/, category: 'routing', suppress: false },

  // ---- text of replies without a telling code ----------------------------------------------
  {
    id: 'text-policy',
    text: anyOf(
      /\bpolic(y|ies)\b|prohibit/, // Exim "Administrative prohibition", GMX "policy restrictions"
      /envelope blocked/, // Mimecast
      /tls required|starttls|not in whitelist/, // Gmail 4.7.0 "TLS required for RCPT domain"
      /access denied|not authori[sz]ed|authentication required|not authenticated/, // Sendmail, SMTP AUTH
      /your access to .{0,40}rejected/, // Cisco IronPort "Your access to submit messages … has been rejected"
    ),
    category: 'policy',
    suppress: false,
  },
];
